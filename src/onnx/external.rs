//! ONNX external data: weights stored beside the model (`NAME.onnx.data`, what
//! `torch.onnx.export` writes by default), read into the model so that everything after
//! the importer (tract's reference run included) sees one self-contained protobuf.
//!
//! The model file is untrusted, and a tensor's `location` is a path it chooses: only files
//! inside the model's own folder are read (no absolute paths, no `..`, no symlink that
//! leads out), a tensor's `offset` and `length` must lie within the file and `length` must
//! be the tensor's size, and every error names the tensor.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path};

use prost::Message;
use tract_onnx::pb::{self, tensor_proto::DataLocation};

use crate::error::{ExternalDataError, IrError};

/// The model at `path`, its external data read in: the bytes of a protobuf whose tensors all
/// hold their own data. A model without external data comes back as it was read.
pub fn read_model(path: &Path) -> Result<Vec<u8>, IrError> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| IrError::Read {
        path: shown.clone(),
        reason: e.to_string(),
    })?;
    let Ok(mut model) = pb::ModelProto::decode(&bytes[..]) else {
        // Not a protobuf: the importer says so, naming the file.
        return Ok(bytes);
    };
    let Some(graph) = model.graph.as_mut() else {
        return Ok(bytes);
    };
    let mut tensors: Vec<&mut pb::TensorProto> = graph.initializer.iter_mut().collect();
    for node in &mut graph.node {
        tensors.extend(node.attribute.iter_mut().filter_map(|a| a.t.as_mut()));
    }
    let external: Vec<&mut pb::TensorProto> =
        tensors.into_iter().filter(|t| is_external(t)).collect();
    if external.is_empty() {
        return Ok(bytes);
    }
    let folder = path.parent().unwrap_or(Path::new("."));
    let folder = if folder.as_os_str().is_empty() {
        Path::new(".")
    } else {
        folder
    };
    for tensor in external {
        inline(tensor, folder)?;
    }
    Ok(model.encode_to_vec())
}

/// Whether a tensor's data lie in an external file.
pub(super) fn is_external(t: &pb::TensorProto) -> bool {
    t.data_location == Some(DataLocation::External as i32)
}

/// Reads `tensor`'s external data from beside the model into its `raw_data`.
fn inline(tensor: &mut pb::TensorProto, folder: &Path) -> Result<(), IrError> {
    read_into(tensor, folder).map_err(|source| IrError::ExternalData {
        tensor: tensor.name.clone(),
        source,
    })
}

fn read_into(tensor: &mut pb::TensorProto, folder: &Path) -> Result<(), ExternalDataError> {
    let (mut location, mut offset, mut length) = (None, 0u64, None);
    for entry in &tensor.external_data {
        let number = || {
            entry
                .value
                .parse::<u64>()
                .map_err(|_| ExternalDataError::NotACount {
                    key: entry.key.clone(),
                    value: entry.value.clone(),
                })
        };
        match entry.key.as_str() {
            "location" => location = Some(entry.value.clone()),
            "offset" => offset = number()?,
            "length" => length = Some(number()?),
            // A SHA-1 of the data: the lengths are checked instead.
            "checksum" => {}
            other => {
                return Err(ExternalDataError::UnknownKey {
                    key: other.to_string(),
                })
            }
        }
    }
    let location = location.ok_or(ExternalDataError::NoLocation)?;
    let file = inside(folder, &location)?;
    let expected = byte_len(tensor)?;
    let length = length.unwrap_or(expected);
    if length != expected {
        return Err(ExternalDataError::Length {
            length,
            expected,
            dims: tensor.dims.clone(),
        });
    }
    let io = |source| ExternalDataError::Io {
        location: location.clone(),
        source,
    };
    let mut reader = File::open(&file).map_err(io)?;
    let size = reader.metadata().map_err(io)?.len();
    if offset.checked_add(length).is_none_or(|end| end > size) {
        return Err(ExternalDataError::BeyondEnd {
            location: location.clone(),
            offset,
            end: offset.saturating_add(length),
            size,
        });
    }
    // Within the file's size, which the platform's usize addresses.
    let mut data = vec![0u8; length as usize];
    reader
        .seek(SeekFrom::Start(offset))
        .and_then(|_| reader.read_exact(&mut data))
        .map_err(io)?;
    tensor.raw_data = data;
    tensor.external_data.clear();
    tensor.data_location = Some(DataLocation::Default as i32);
    Ok(())
}

/// The file `location` names within `folder`: a relative path of plain names that, links
/// resolved, still lies inside the folder, and is a regular file.
fn inside(folder: &Path, location: &str) -> Result<std::path::PathBuf, ExternalDataError> {
    let relative = Path::new(location);
    let plain = !location.is_empty()
        && relative
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    let location = location.to_string();
    if !plain {
        return Err(ExternalDataError::NotRelative { location });
    }
    let root = folder
        .canonicalize()
        .map_err(|source| ExternalDataError::Io {
            location: "the model's folder".into(),
            source,
        })?;
    let file = root
        .join(relative)
        .canonicalize()
        .map_err(|source| ExternalDataError::Io {
            location: location.clone(),
            source,
        })?;
    if !file.starts_with(&root) {
        return Err(ExternalDataError::OutOfFolder { location });
    }
    if !file.is_file() {
        return Err(ExternalDataError::NotAFile { location });
    }
    Ok(file)
}

/// The bytes of a tensor's raw data: its values times its element type's size.
fn byte_len(t: &pb::TensorProto) -> Result<u64, ExternalDataError> {
    use pb::tensor_proto::DataType as T;
    let size: u64 = match T::from_i32(t.data_type) {
        Some(T::Float | T::Int32 | T::Uint32) => 4,
        Some(T::Double | T::Int64 | T::Uint64) => 8,
        Some(T::Float16 | T::Bfloat16 | T::Int16 | T::Uint16) => 2,
        Some(T::Int8 | T::Uint8 | T::Bool) => 1,
        _ => {
            return Err(ExternalDataError::DataType {
                data_type: t.data_type,
            })
        }
    };
    t.dims.iter().try_fold(size, |n, &d| {
        u64::try_from(d)
            .ok()
            .and_then(|d| n.checked_mul(d))
            .ok_or_else(|| ExternalDataError::Dims {
                dims: t.dims.clone(),
            })
    })
}
