//! The float graph: what an importer produces and what calibration runs.
//!
//! This version proves chains of dense layers and ReLUs on one flat input vector (batch 1).
//! Wiring ops (Flatten, Reshape, Identity, Dropout) vanish at import; BatchNormalization is
//! folded into the preceding dense layer.

use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

use crate::error::IrError;

/// One layer of the float graph.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum FloatLayer {
    /// `y = W x + b`, `W` of shape `(outputs, inputs)`.
    Dense {
        /// Node name (from the model file).
        name: String,
        /// Weights, `(outputs, inputs)`.
        weights: Array2<f32>,
        /// Bias, `outputs` long.
        bias: Array1<f32>,
    },
    /// `y = max(x, 0)`.
    Relu {
        /// Node name.
        name: String,
    },
}

impl FloatLayer {
    /// The node name.
    pub fn name(&self) -> &str {
        match self {
            Self::Dense { name, .. } | Self::Relu { name } => name,
        }
    }
}

/// A chain of float layers over one flat input.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FloatGraph {
    /// Name of the model input.
    pub input_name: String,
    /// The input's shape as declared by the model (batch dimension included).
    pub input_shape: Vec<usize>,
    /// Layers in execution order.
    pub layers: Vec<FloatLayer>,
}

impl FloatGraph {
    /// Values in the flat input.
    pub fn input_len(&self) -> usize {
        self.input_shape.iter().product()
    }

    /// Checks that every layer's shape fits the previous one and every constant is finite.
    pub fn validate(&self) -> Result<(), IrError> {
        if self.layers.is_empty() {
            return Err(IrError::Empty("no layers".into()));
        }
        let mut len = self.input_len();
        for layer in &self.layers {
            if let FloatLayer::Dense {
                name,
                weights,
                bias,
            } = layer
            {
                let (out, inp) = weights.dim();
                if inp != len || bias.len() != out {
                    return Err(IrError::Shape {
                        node: name.clone(),
                        expected: format!("weights (_, {len}) and bias ({out})"),
                        got: format!("weights {:?} and bias ({})", weights.dim(), bias.len()),
                    });
                }
                if let Some(bad) = weights.iter().chain(bias.iter()).find(|v| !v.is_finite()) {
                    return Err(IrError::BadConstant {
                        tensor: name.clone(),
                        reason: format!("contains {bad}"),
                    });
                }
                len = out;
            }
        }
        Ok(())
    }

    /// The float forward pass in `f64`: the values after each layer, the input first.
    pub fn forward(&self, input: &[f32]) -> Vec<Vec<f64>> {
        let mut values = vec![input.iter().map(|v| f64::from(*v)).collect::<Vec<_>>()];
        for layer in &self.layers {
            let x = values.last().map(Vec::as_slice).unwrap_or_default();
            let y = match layer {
                FloatLayer::Dense { weights, bias, .. } => weights
                    .outer_iter()
                    .zip(bias.iter())
                    .map(|(row, b)| {
                        row.iter()
                            .zip(x)
                            .map(|(w, x)| f64::from(*w) * x)
                            .sum::<f64>()
                            + f64::from(*b)
                    })
                    .collect(),
                FloatLayer::Relu { .. } => x.iter().map(|v| v.max(0.0)).collect(),
            };
            values.push(y);
        }
        values
    }
}
