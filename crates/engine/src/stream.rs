//! `engine quantize` of a safetensors checkpoint at file-reading speed.
//!
//! The input is memory-mapped and every tensor is quantized straight from the mapped pages (no copy into a buffer),
//! in file order. The output layout is planned from the header alone before any tensor is read, so each tensor's
//! entries are written once, at their final offsets, as soon as it is quantized; the only sizes a plan cannot know
//! (the `quant_state` JSON, whose nested offset is computed) go last, and the header, sized for their upper bound
//! and padded with spaces as safetensors allows, is written at the very end. Pages of a finished tensor are dropped
//! from the mapping, so peak memory is about one tensor's worth, never the checkpoint's.

use std::borrow::Cow;
use std::fs::File;
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::path::Path;
use std::sync::mpsc::{SyncSender, sync_channel};

use half::{bf16, f16};
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use serde_json::{Map, Value, json};

use crate::EngineError;
use crate::double_quant::NESTED_BLOCKSIZE;
use crate::nf4::{self, FloatDtype, Nf4Element};
use crate::nf4_code::NF4_CODEBOOK;
use crate::state_dict::{AbsmaxState, Params4bit, QUANT_STATE_SUFFIX, check_blocksize};

/// What `quantize_file` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Streamed {
    pub quantized: usize,
    pub passthrough: usize,
}

/// One output tensor: its name, safetensors dtype, shape and byte range in the data section.
struct Slot {
    name: String,
    dtype: Dtype,
    shape: Vec<usize>,
    start: usize,
    len: usize,
}

/// The data section's regions, in the order that keeps every tensor aligned: wide passthrough tensors first, then
/// the f32 statistics, then the byte-sized codes; the variable-length `quant_state` entries come after all of them.
#[derive(Default)]
struct Layout {
    regions: [Vec<Slot>; 3],
}

impl Layout {
    fn add(&mut self, region: usize, name: String, dtype: Dtype, shape: Vec<usize>) {
        let len = (shape.iter().product::<usize>() * dtype.bitsize()).div_ceil(8);
        self.regions[region].push(Slot {
            name,
            dtype,
            shape,
            start: 0,
            len,
        });
    }

    /// Assigns offsets region by region; returns where the `quant_state` entries start.
    fn place(&mut self) -> usize {
        let mut cursor = 0;
        for slot in self.regions.iter_mut().flatten() {
            slot.start = cursor;
            cursor += slot.len;
        }
        cursor
    }

    fn start(&self, name: &str) -> usize {
        self.regions
            .iter()
            .flatten()
            .find(|slot| slot.name == name)
            .map(|slot| slot.start)
            .expect("every written entry was planned")
    }
}

const WIDE: usize = 0;
const STATS: usize = 1;
const CODES: usize = 2;

fn is_quantized(name: &str, view: &TensorView, skip: &[String]) -> bool {
    let float = matches!(view.dtype(), Dtype::F32 | Dtype::F16 | Dtype::BF16);
    view.shape().len() == 2 && float && name.ends_with("weight") && !skip.iter().any(|s| s == name)
}

fn float_dtype(dtype: Dtype) -> FloatDtype {
    match dtype {
        Dtype::F16 => FloatDtype::F16,
        Dtype::BF16 => FloatDtype::Bf16,
        _ => FloatDtype::F32,
    }
}

/// Plans the entries bitsandbytes writes for a 4-bit weight (as `Params4bit::state_dict_entries`).
fn plan_weight(
    layout: &mut Layout,
    name: &str,
    elements: usize,
    double_quant: bool,
    blocksize: usize,
) {
    let blocks = nf4::block_count(elements, blocksize);
    let key = |suffix: &str| format!("{name}.{suffix}");
    layout.add(
        CODES,
        name.to_string(),
        Dtype::U8,
        vec![nf4::packed_len(elements), 1],
    );
    layout.add(
        STATS,
        key("quant_map"),
        Dtype::F32,
        vec![NF4_CODEBOOK.len()],
    );
    if double_quant {
        layout.add(CODES, key("absmax"), Dtype::U8, vec![blocks]);
        let nested = blocks.div_ceil(NESTED_BLOCKSIZE);
        layout.add(STATS, key("nested_absmax"), Dtype::F32, vec![nested]);
        layout.add(STATS, key("nested_quant_map"), Dtype::F32, vec![256]);
    } else {
        layout.add(STATS, key("absmax"), Dtype::F32, vec![blocks]);
    }
}

/// The safetensors header for `layout` with `quant_state` entries of `lengths` bytes from `tail` on.
fn header(layout: &Layout, tail: usize, quant_states: &[(String, usize)]) -> Vec<u8> {
    let mut entries = Map::new();
    for slot in layout.regions.iter().flatten() {
        entries.insert(
            slot.name.clone(),
            json!({ "dtype": slot.dtype, "shape": slot.shape, "data_offsets": [slot.start, slot.start + slot.len] }),
        );
    }
    let mut cursor = tail;
    for (name, len) in quant_states {
        entries.insert(
            format!("{name}.{QUANT_STATE_SUFFIX}"),
            json!({ "dtype": Dtype::U8, "shape": [len], "data_offsets": [cursor, cursor + len] }),
        );
        cursor += len;
    }
    serde_json::to_vec(&Value::Object(entries)).expect("a map of plain values serializes")
}

/// A tensor's little-endian bytes as values: borrowed when aligned (safetensors aligns its data, and so does this
/// module), copied otherwise.
fn values<T: Copy>(bytes: &[u8], decode: fn(&[u8]) -> T) -> Cow<'_, [T]> {
    let size = std::mem::size_of::<T>();
    if cfg!(target_endian = "little")
        && bytes.as_ptr().align_offset(std::mem::align_of::<T>()) == 0
        && bytes.len().is_multiple_of(size)
    {
        // SAFETY: aligned, in bounds, and every bit pattern is a valid f32/f16/bf16; little-endian like the file.
        Cow::Borrowed(unsafe {
            std::slice::from_raw_parts(bytes.as_ptr().cast(), bytes.len() / size)
        })
    } else {
        Cow::Owned(bytes.chunks_exact(size).map(decode).collect())
    }
}

fn quantize_view(
    name: &str,
    view: &TensorView,
    blocksize: usize,
    double_quant: bool,
) -> Result<Params4bit, EngineError> {
    fn run<T: Nf4Element>(
        name: &str,
        view: &TensorView,
        values: &[T],
        blocksize: usize,
        double_quant: bool,
    ) -> Result<Params4bit, EngineError> {
        Params4bit::quantize_slice(name, values, view.shape(), blocksize, double_quant)
    }
    let data = view.data();
    match view.dtype() {
        Dtype::F16 => run(
            name,
            view,
            &values(data, |b| f16::from_le_bytes([b[0], b[1]])),
            blocksize,
            double_quant,
        ),
        Dtype::BF16 => run(
            name,
            view,
            &values(data, |b| bf16::from_le_bytes([b[0], b[1]])),
            blocksize,
            double_quant,
        ),
        _ => run(
            name,
            view,
            &values(data, |b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            blocksize,
            double_quant,
        ),
    }
}

fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values
        .iter()
        .flat_map(|value| value.to_le_bytes())
        .collect()
}

/// Writes `params`' planned entries (all but the `quant_state`) into the data section starting at `data`.
fn write_weight(
    out: &Output,
    layout: &Layout,
    data: u64,
    name: &str,
    params: Params4bit,
) -> Result<(), EngineError> {
    let at = |entry: &str| data + layout.start(entry) as u64;
    let key = |suffix: &str| format!("{name}.{suffix}");
    out.write(f32_bytes(&NF4_CODEBOOK).into(), at(&key("quant_map")))?;
    match params.absmax {
        AbsmaxState::Plain(absmax) => out.write(f32_bytes(&absmax).into(), at(&key("absmax")))?,
        AbsmaxState::Nested(nested) => {
            out.write(nested.codes.into(), at(&key("absmax")))?;
            out.write(
                f32_bytes(&nested.nested_absmax).into(),
                at(&key("nested_absmax")),
            )?;
            out.write(
                f32_bytes(&nested.quant_map).into(),
                at(&key("nested_quant_map")),
            )?;
        }
    }
    out.write(params.packed.into(), at(name))
}

/// The output file's positional writes, handed to a thread of their own: writing one tensor's entries into the
/// page cache overlaps quantizing the next (on this kind of machine writing the ~1/8-size output costs about as
/// much as reading the whole input).
struct Output<'a> {
    jobs: SyncSender<(Cow<'a, [u8]>, u64)>,
}

impl<'a> Output<'a> {
    /// Queues a write; fails only when the writer has stopped (its own error is reported by [`write_all`]).
    fn write(&self, bytes: Cow<'a, [u8]>, offset: u64) -> Result<(), EngineError> {
        self.jobs
            .send((bytes, offset))
            .map_err(|_| EngineError::Io {
                path: "the output".into(),
                source: std::io::Error::other("the writer stopped"),
            })
    }
}

/// Where the output goes: a temporary file beside the path, renamed over it once complete, so an error or a crash
/// never leaves half a checkpoint there (nor removes the one that was); or the path itself when it is not a regular
/// file (`/dev/null`).
enum Destination {
    Temporary(tempfile::NamedTempFile),
    Direct(File),
}

impl Destination {
    fn open(path: &Path) -> Result<Self, EngineError> {
        if path.metadata().is_ok_and(|m| !m.is_file()) {
            return Ok(Self::Direct(
                File::create(path).map_err(EngineError::io(path))?,
            ));
        }
        let folder = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        // The usual mode for a new file under the user's umask (a temporary file alone would be 0600).
        let file = tempfile::Builder::new()
            .prefix(".qcompat-")
            .permissions(std::fs::Permissions::from_mode(0o666))
            .tempfile_in(folder)
            .map_err(EngineError::io(path))?;
        Ok(Self::Temporary(file))
    }

    fn file(&self) -> &File {
        match self {
            Self::Temporary(file) => file.as_file(),
            Self::Direct(file) => file,
        }
    }

    fn finish(self, path: &Path) -> Result<(), EngineError> {
        if let Self::Temporary(file) = self {
            file.persist(path)
                .map_err(|e| EngineError::io(path)(e.error))?;
        }
        Ok(())
    }
}

/// Runs `produce` with an [`Output`] whose writes land in `path`; the writer's I/O error wins over a send failure.
fn write_all<'a, T>(
    path: &Path,
    produce: impl FnOnce(&Output<'a>) -> Result<T, EngineError>,
) -> Result<T, EngineError> {
    let destination = Destination::open(path)?;
    let file = destination.file();
    let produced = std::thread::scope(|scope| {
        let (jobs, queue) = sync_channel::<(Cow<'a, [u8]>, u64)>(16);
        let writer = scope.spawn(move || {
            queue
                .into_iter()
                .try_for_each(|(bytes, offset)| file.write_all_at(&bytes, offset))
        });
        let produced = produce(&Output { jobs });
        let written = writer.join().expect("the writer thread does not panic");
        written.map_err(EngineError::io(path))?;
        produced
    })?;
    destination.finish(path)?;
    Ok(produced)
}

/// Quantizes every 2-D floating-point `…weight` tensor of the safetensors file `input` (except `skip`) into the
/// bitsandbytes `Params4bit` layout in `output`; other tensors are copied as they are.
pub fn quantize_file(
    input: &Path,
    output: &Path,
    blocksize: usize,
    double_quant: bool,
    skip: &[String],
) -> Result<Streamed, EngineError> {
    check_blocksize(blocksize)?;
    let file = File::open(input).map_err(EngineError::io(input))?;
    // SAFETY: a read-only mapping; like candle's own mmap loader, it assumes nobody truncates the file meanwhile.
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(EngineError::io(input))?;
    // Read ahead generously: the file is read once, front to back.
    let _ = map.advise(memmap2::Advice::Sequential);
    let corrupt = |error: safetensors::SafeTensorError| EngineError::CorruptFile {
        path: input.to_path_buf(),
        format: "safetensors",
        reason: error.to_string(),
    };
    let tensors = SafeTensors::deserialize(&map).map_err(corrupt)?;
    let mut views = tensors.tensors();
    views.sort_by_key(|(_, view)| offset_in(&map, view));
    let options = Options {
        blocksize,
        double_quant,
        skip,
    };
    let plan = Plan::new(&views, &options);
    write_all(output, |out| {
        let (streamed, quant_states) = stream_tensors(out, &map, &views, &plan, &options)?;
        plan.write_tail(out, quant_states)?;
        Ok(streamed)
    })
}

/// What `quantize_file` was asked for.
struct Options<'a> {
    blocksize: usize,
    double_quant: bool,
    skip: &'a [String],
}

/// Each quantized weight's name and `quant_state` JSON, in file order.
type QuantStates = Vec<(String, Vec<u8>)>;

/// Where a view's bytes start in the mapped file.
fn offset_in(map: &memmap2::Mmap, view: &TensorView) -> usize {
    view.data().as_ptr() as usize - map.as_ptr() as usize
}

/// The output planned from the input's header alone: every entry's place, where the `quant_state` entries start
/// (`tail`), and the room reserved for the header, whose final lengths are only known at the end.
struct Plan {
    layout: Layout,
    tail: usize,
    /// Bytes of header; the data section starts right after them and the 8-byte length.
    reserved: usize,
}

impl Plan {
    fn new(views: &[(String, TensorView)], options: &Options) -> Self {
        let mut layout = Layout::default();
        let mut bounds = Vec::new();
        for (name, view) in views {
            if is_quantized(name, view, options.skip) {
                let elements = view.shape().iter().product();
                let (blocksize, double_quant) = (options.blocksize, options.double_quant);
                plan_weight(&mut layout, name, elements, double_quant, blocksize);
                let dtype = float_dtype(view.dtype());
                let bound = Params4bit::quant_state_json_bound(
                    view.shape(),
                    dtype,
                    blocksize,
                    double_quant,
                );
                bounds.push((name.clone(), bound));
            } else {
                layout.add(WIDE, name.clone(), view.dtype(), view.shape().to_vec());
            }
        }
        // Wide passthrough tensors by element size, widest first, so that each starts aligned to its size.
        layout.regions[WIDE].sort_by_key(|slot| std::cmp::Reverse(slot.dtype.bitsize()));
        let tail = layout.place();
        // Any header with actual lengths (never above the bounds, so no longer digits) fits this space.
        let reserved = header(&layout, tail, &bounds).len().next_multiple_of(8);
        Plan {
            layout,
            tail,
            reserved,
        }
    }

    fn data(&self) -> u64 {
        8 + self.reserved as u64
    }

    /// Writes the `quant_state` entries after everything else, then the header with their actual lengths.
    fn write_tail(&self, out: &Output, quant_states: QuantStates) -> Result<(), EngineError> {
        let mut cursor = self.data() + self.tail as u64;
        let mut lengths = Vec::new();
        for (name, bytes) in quant_states {
            lengths.push((name, bytes.len()));
            let len = bytes.len() as u64;
            out.write(bytes.into(), cursor)?;
            cursor += len;
        }
        let mut head = header(&self.layout, self.tail, &lengths);
        assert!(
            head.len() <= self.reserved,
            "quant_state lengths exceeded their bounds"
        );
        head.resize(self.reserved, b' ');
        out.write((self.reserved as u64).to_le_bytes().to_vec().into(), 0)?;
        out.write(head.into(), 8)
    }
}

/// Quantizes or copies every tensor in file order, each straight to its planned place; returns what it did and
/// the `quant_state` JSON of each quantized weight.
fn stream_tensors<'a>(
    out: &Output<'a>,
    map: &memmap2::Mmap,
    views: &'a [(String, TensorView<'a>)],
    plan: &Plan,
    options: &Options,
) -> Result<(Streamed, QuantStates), EngineError> {
    let mut quant_states = Vec::new();
    let mut streamed = Streamed {
        quantized: 0,
        passthrough: 0,
    };
    let data = plan.data();
    for (name, view) in views {
        if is_quantized(name, view, options.skip) {
            let params = quantize_view(name, view, options.blocksize, options.double_quant)?;
            quant_states.push((name.clone(), params.quant_state_json()));
            write_weight(out, &plan.layout, data, name, params)?;
            streamed.quantized += 1;
        } else {
            out.write(view.data().into(), data + plan.layout.start(name) as u64)?;
            streamed.passthrough += 1;
        }
        // Done with these pages: drop them from this process (they stay in the page cache; the writer may
        // still copy a passthrough tensor from them, which just faults them in again).
        // SAFETY: a read-only file mapping: dropped pages read back the same file contents.
        let _ = unsafe {
            map.unchecked_advise_range(
                memmap2::UncheckedAdvice::DontNeed,
                offset_in(map, view),
                view.data().len(),
            )
        };
    }
    Ok((streamed, quant_states))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use candle_core::{DType, Device, Tensor};

    use super::*;
    use crate::state_dict::QuantizedStateDict;

    /// Awkward on purpose: odd sizes, every float dtype, a 1-D f16 tensor of odd length ahead of f32 data (alignment),
    /// integer and skipped tensors that pass through.
    fn checkpoint(dir: &Path) -> std::path::PathBuf {
        let cpu = Device::Cpu;
        let ramp = |n: usize| {
            (0..n)
                .map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0)
                .collect::<Vec<_>>()
        };
        let mut tensors = HashMap::new();
        let f32_weight = Tensor::from_vec(ramp(33 * 17), (33, 17), &cpu).unwrap();
        tensors.insert("a.weight".to_string(), f32_weight.clone());
        tensors.insert(
            "b.weight".to_string(),
            f32_weight.to_dtype(DType::F16).unwrap(),
        );
        let big = Tensor::from_vec(ramp(300 * 70), (300, 70), &cpu).unwrap();
        tensors.insert("c.weight".to_string(), big.to_dtype(DType::BF16).unwrap());
        tensors.insert(
            "c.bias".to_string(),
            Tensor::from_vec(ramp(7), 7, &cpu)
                .unwrap()
                .to_dtype(DType::F16)
                .unwrap(),
        );
        tensors.insert(
            "d.weight".to_string(),
            Tensor::from_vec(ramp(64 * 3), (64, 3), &cpu).unwrap(),
        );
        tensors.insert(
            "steps".to_string(),
            Tensor::new(&[3i64, 1, 4], &cpu).unwrap(),
        );
        let path = dir.join("in.safetensors");
        candle_core::safetensors::save(&tensors, &path).unwrap();
        path
    }

    #[test]
    fn streamed_output_equals_the_in_memory_quantizer() {
        let dir = tempfile::tempdir().unwrap();
        let input = checkpoint(dir.path());
        let skip = vec!["d.weight".to_string()];
        for double_quant in [false, true] {
            let output = dir.path().join(format!("out-{double_quant}.safetensors"));
            let streamed = quantize_file(&input, &output, 64, double_quant, &skip).unwrap();
            assert_eq!(
                streamed,
                Streamed {
                    quantized: 3,
                    passthrough: 3
                }
            );

            let expected = QuantizedStateDict::quantize(
                crate::checkpoint::load_tensors(&input).unwrap(),
                64,
                double_quant,
                &skip,
            )
            .unwrap();
            // The safetensors crate's own validation (contiguous offsets, header) accepts the file.
            let bytes = std::fs::read(&output).unwrap();
            SafeTensors::deserialize(&bytes).unwrap();
            let read = QuantizedStateDict::load(&output).unwrap();
            assert_eq!(read.quantized, expected.quantized);
            assert_eq!(
                read.passthrough.keys().collect::<Vec<_>>(),
                expected.passthrough.keys().collect::<Vec<_>>()
            );
            for (name, tensor) in &expected.passthrough {
                let ours = &read.passthrough[name];
                assert_eq!(ours.dtype(), tensor.dtype(), "{name}");
                let diff = (ours.to_dtype(DType::F64).unwrap()
                    - tensor.to_dtype(DType::F64).unwrap())
                .unwrap()
                .abs()
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f64>()
                .unwrap();
                assert_eq!(diff, 0.0, "{name}");
            }
            for (name, params) in &expected.quantized {
                assert_eq!(
                    read.quantized[name].quant_state_json(),
                    params.quant_state_json(),
                    "{name}: the quant_state bytes"
                );
            }
        }
    }

    #[test]
    fn a_failure_midway_leaves_the_previous_output_and_no_partial_file() {
        let dir = tempfile::tempdir().unwrap();
        let cpu = Device::Cpu;
        let mut values = vec![0.5f32; 64 * 4];
        values[200] = f32::NAN;
        let tensors = HashMap::from([
            (
                "a.weight".to_string(),
                Tensor::ones((64, 4), DType::F32, &cpu).unwrap(),
            ),
            (
                "b.weight".to_string(),
                Tensor::from_vec(values, (64, 4), &cpu).unwrap(),
            ),
        ]);
        let input = dir.path().join("nan.safetensors");
        candle_core::safetensors::save(&tensors, &input).unwrap();
        let output = dir.path().join("out.safetensors");
        std::fs::write(&output, b"the previous output").unwrap();
        let error = quantize_file(&input, &output, 64, false, &[]).unwrap_err();
        assert!(matches!(error, EngineError::NonFinite { .. }), "{error}");
        assert_eq!(std::fs::read(&output).unwrap(), b"the previous output");
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left.len(), 2, "no temporary file is left behind: {left:?}");
    }

    #[test]
    fn a_corrupt_input_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("bad.safetensors");
        std::fs::write(&input, b"\x10\0\0\0\0\0\0\0{not json at all").unwrap();
        let error =
            quantize_file(&input, &dir.path().join("o.safetensors"), 64, false, &[]).unwrap_err();
        assert!(matches!(error, EngineError::CorruptFile { .. }), "{error}");
        assert_eq!(error.fault(), crate::Fault::Input);
    }
}
