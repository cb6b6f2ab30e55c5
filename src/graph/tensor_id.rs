//! Typed tensor ids, shared by the float and the integer graph.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A tensor of a graph: [`TensorId::INPUT`] is the model's (flat) input and
/// [`TensorId::of_node`]`(i)` is node `i`'s output. Nodes read earlier tensors only, so an id
/// is also a position in execution order. Serialised as its number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TensorId(pub usize);

impl TensorId {
    /// The model input.
    pub const INPUT: Self = Self(0);

    /// The output of node `index`.
    pub const fn of_node(index: usize) -> Self {
        Self(index + 1)
    }

    /// The node that produces this tensor, or `None` for the input.
    pub const fn node(self) -> Option<usize> {
        self.0.checked_sub(1)
    }

    /// Its position in a list of tensors that starts with the input.
    pub const fn index(self) -> usize {
        self.0
    }
}

impl fmt::Display for TensorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.node() {
            None => f.write_str("the input"),
            Some(i) => write!(f, "tensor #{} (node {i}'s output)", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::TensorId;

    #[test]
    fn ids_name_their_producer() {
        assert_eq!(TensorId::INPUT.node(), None);
        assert_eq!(TensorId::of_node(3).node(), Some(3));
        assert_eq!(TensorId::of_node(3).index(), 4);
        assert_eq!(serde_json::to_string(&TensorId::of_node(1)).unwrap(), "2");
        assert_eq!(
            TensorId::of_node(0).to_string(),
            "tensor #1 (node 0's output)"
        );
    }
}
