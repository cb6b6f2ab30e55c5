//! `zkinfer inspect` and `zkinfer accuracy`: what a compiled model is and how close its
//! integer semantics come to the float model.

use std::io::Write;
use std::path::Path;

use zkinfer::input::EvalSet;
use zkinfer::CompiledModel;

use crate::common::Result;

pub(crate) fn inspect(model_path: &Path, json: bool) -> Result<()> {
    let model = CompiledModel::load(model_path)?;
    if model.is_parted() {
        let report = model.inspect_parts()?;
        if json {
            out!("{}", serde_json::to_string(&report)?);
        } else {
            for (i, p) in report.parts.iter().enumerate() {
                out!("part {i}: nodes {}..{}", p.nodes.0, p.nodes.1);
                out!("{}\n", p.circuit);
            }
            out!("{report}");
        }
        return Ok(());
    }
    let report = model.inspect()?;
    if json {
        out!("{}", serde_json::to_string(&report)?);
    } else {
        out!("{report}");
    }
    Ok(())
}

pub(crate) fn accuracy(model_path: &Path, eval: &Path, json: bool) -> Result<()> {
    let model = CompiledModel::load(model_path)?;
    let report = model.accuracy(&EvalSet::read(eval)?)?;
    if json {
        out!("{}", serde_json::to_string(&report)?);
    } else {
        out!("{report}");
    }
    Ok(())
}
