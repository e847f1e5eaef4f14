//! The rows of a Parquet file as JSON objects, for the ItemReader's
//! `InputType: PARQUET`. Written by hand: the `parquet` crate would bring
//! arrow and every codec into the Lambda. It reads flat schemas (REQUIRED or
//! OPTIONAL top-level columns), data pages v1 and v2 and dictionary pages,
//! PLAIN, dictionary and RLE encodings, UNCOMPRESSED, SNAPPY and GZIP; any
//! other fails the read, named. Each row is an object keyed by column name:
//! DATE `"YYYY-MM-DD"`, TIMESTAMP RFC 3339 UTC to the millisecond (or micro-
//! or nanosecond when those digits are not zero), DECIMAL a number (an f64
//! unless whole), NaN and infinities null, byte arrays strings (lossily if
//! not UTF-8). A hostile file fails its read, never the process: lengths are
//! checked before use, headers are bounded, and a read stops at
//! [`MAX_CELLS`] values or [`MAX_DECODED`] bytes.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt::Display;
use std::io::Read;

use serde_json::{Map, Number, Value};
use stepwise_asl::{StatesError, timestamp};

use super::reader::failed;

type Result<T> = std::result::Result<T, StatesError>;

/// The most values (rows × columns) one file may yield: all are in memory.
const MAX_CELLS: usize = 5_000_000;
const CELLS: &str = "5,000,000 values";
/// The most bytes one file's pages may decompress to (and its dictionaries'
/// strings be copied to), in all.
const MAX_DECODED: usize = 256 << 20;
const DECODED: &str = "256 MiB decoded";
/// The most Thrift values one header may hold, and how deep they may nest.
const MAX_NODES: usize = 2_000_000;
const MAX_DEPTH: u32 = 16;

// Physical types, as the format numbers them.
const BOOLEAN: i64 = 0;
const INT32: i64 = 1;
const INT64: i64 = 2;
const INT96: i64 = 3;
const FLOAT: i64 = 4;
const DOUBLE: i64 = 5;
const BYTE_ARRAY: i64 = 6;

const CODECS: &str = "UNCOMPRESSED SNAPPY GZIP LZO BROTLI LZ4 ZSTD LZ4_RAW";
const ENCODINGS: &str = "PLAIN GROUP_VAR_INT PLAIN_DICTIONARY RLE BIT_PACKED \
    DELTA_BINARY_PACKED DELTA_LENGTH_BYTE_ARRAY DELTA_BYTE_ARRAY RLE_DICTIONARY BYTE_STREAM_SPLIT";

fn bad(what: impl Display) -> StatesError {
    failed(format!("The object is not a valid Parquet file: {what}"))
}

fn need<T>(value: Option<T>, what: &str) -> Result<T> {
    value.ok_or_else(|| bad(what))
}

/// A failure naming what Stepwise does not read.
fn unread(what: impl Display) -> StatesError {
    failed(format!("{what}, which Stepwise does not read"))
}

/// A failure naming, by its number in `names`, what `column` uses.
fn unread_named(column: &str, uses: &str, names: &str, n: i64) -> StatesError {
    let i = usize::try_from(n).unwrap_or(usize::MAX);
    let name = names.split(' ').nth(i);
    let name = name.map_or_else(|| format!("number {n}"), str::to_owned);
    unread(format!("The Parquet column '{column}' {uses} {name}"))
}

/// A little-endian unsigned integer of up to eight bytes.
fn le(bytes: &[u8]) -> u64 {
    bytes.iter().rev().fold(0, |v, b| v << 8 | u64::from(*b))
}

/// Every row of the file `bytes` holds, `max` at most (0: all).
pub fn items(bytes: &[u8], max: usize) -> Result<Vec<Value>> {
    let meta = footer(bytes)?;
    let columns = columns(meta.list(2))?;
    let budget = [Cell::new(MAX_CELLS), Cell::new(MAX_DECODED)];
    let (mut rows, max) = (Vec::new(), if max == 0 { usize::MAX } else { max });
    for group in meta.list(4) {
        let n = need(group.len(3), "a row group has no row count")?;
        let n = n.min(max - rows.len());
        let cells = n.saturating_mul(columns.len());
        spend(&budget[0], cells, CELLS)?;
        if group.list(1).len() != columns.len() {
            return Err(bad("a row group's columns are not the schema's"));
        }
        let start = rows.len();
        rows.resize_with(start + n, || Value::Object(Map::new()));
        for (column, chunk) in columns.iter().zip(group.list(1)) {
            let read = column_chunk(bytes, column, chunk, n, &budget)?;
            if read.len() != n {
                let (name, got) = (&column.name, read.len());
                return Err(bad(format!("column '{name}' has {got} of {n} values")));
            }
            for (row, value) in rows[start..].iter_mut().zip(read) {
                row[&column.name] = value;
            }
        }
    }
    Ok(rows)
}

/// Takes `n` from what is `left` of a read's allowance of `what`.
fn spend(left: &Cell<usize>, n: usize, what: &str) -> Result<()> {
    let what = format!("The Parquet object holds more than {what}, the most Stepwise reads");
    left.set(left.get().checked_sub(n).ok_or_else(|| failed(what))?);
    Ok(())
}

/// A Thrift compact-protocol value, as far as this reader needs it.
#[derive(Debug, PartialEq)]
enum Node<'a> {
    Int(i64),
    Bool(bool),
    Bin(&'a [u8]),
    List(Vec<Node<'a>>),
    Struct(Vec<(i16, Node<'a>)>),
}

impl<'a> Node<'a> {
    fn get(&self, id: i16) -> Option<&Node<'a>> {
        let Node::Struct(f) = self else { return None };
        f.iter().find(|(i, _)| *i == id).map(|(_, n)| n)
    }

    fn int(&self, id: i16) -> Option<i64> {
        match self.get(id)? {
            Node::Int(v) => Some(*v),
            _ => None,
        }
    }

    fn len(&self, id: i16) -> Option<usize> {
        usize::try_from(self.int(id)?).ok()
    }

    fn text(&self, id: i16) -> String {
        match self.get(id) {
            Some(Node::Bin(b)) => String::from_utf8_lossy(b).into_owned(),
            _ => String::new(),
        }
    }

    fn list(&self, id: i16) -> &[Node<'a>] {
        match self.get(id) {
            Some(Node::List(items)) => items,
            _ => &[],
        }
    }

    /// A union's member: its field id and value.
    fn member(&self) -> Option<(i16, &Node<'a>)> {
        let Node::Struct(f) = self else { return None };
        f.first().map(|(id, n)| (*id, n))
    }
}

/// Reads compact-protocol values from a slice, [`MAX_NODES`] at most.
struct Thrift<'a> {
    buf: &'a [u8],
    pos: usize,
    nodes: usize,
}

impl<'a> Thrift<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Self {
            buf,
            pos: 0,
            nodes: MAX_NODES,
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let out = &self.buf[self.pos..need(end, "a length runs past its data")?];
        self.pos += n;
        Ok(out)
    }

    fn varint(&mut self) -> Result<u64> {
        let (v, used) = uvarint(&self.buf[self.pos..])?;
        self.pos += used;
        Ok(v)
    }

    fn zigzag(&mut self) -> Result<i64> {
        let v = self.varint()?;
        Ok((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    /// A struct: fields, each a byte (id delta, type; a zero delta puts
    /// the id after it) and a value, until a zero byte.
    fn structure(&mut self, depth: u32) -> Result<Node<'a>> {
        let (mut fields, mut id) = (Vec::new(), 0i16);
        loop {
            let head = self.take(1)?[0];
            if head == 0 {
                return Ok(Node::Struct(fields));
            }
            id = match head >> 4 {
                0 => self.zigzag()? as i16,
                delta => id.wrapping_add(i16::from(delta)),
            };
            fields.push((id, self.value(head & 0x0f, depth)?));
        }
    }

    /// A value of compact type `kind`: 1, 2 true, false; 3 byte; 4–6 ints;
    /// 7 double; 8 binary; 9 list, 10 set (a byte: size (15: a varint after
    /// it), type; then elements); 12 struct. (Parquet has no maps.)
    fn value(&mut self, kind: u8, depth: u32) -> Result<Node<'a>> {
        self.nodes = need(self.nodes.checked_sub(1), "a header is too large")?;
        Ok(match kind {
            1 | 2 => Node::Bool(kind == 1),
            3 => Node::Int(i64::from(self.take(1)?[0] as i8)),
            4..=6 => Node::Int(self.zigzag()?),
            7 => Node::Int(le(self.take(8)?) as i64),
            8 => {
                let n = usize::try_from(self.varint()?).unwrap_or(usize::MAX);
                Node::Bin(self.take(n)?)
            }
            9 | 10 | 12 if depth == MAX_DEPTH => return Err(bad("a header nests too deeply")),
            12 => self.structure(depth + 1)?,
            9 | 10 => {
                let head = self.take(1)?[0];
                let n = match head >> 4 {
                    15 => self.varint()?,
                    n => u64::from(n),
                };
                // Every element takes a byte at least.
                if n > (self.buf.len() - self.pos) as u64 {
                    return Err(bad("a list is longer than its header"));
                }
                // A boolean element is a byte (1 true, 2 false): read as one.
                let kind = (head & 0x0f).max(3);
                let items = (0..n).map(|_| self.value(kind, depth + 1));
                Node::List(items.collect::<Result<_>>()?)
            }
            other => return Err(bad(format!("a header has unknown Thrift type {other}"))),
        })
    }
}

/// An unsigned LEB128 varint and the bytes it took.
fn uvarint(buf: &[u8]) -> Result<(u64, usize)> {
    let mut v = 0u64;
    for (i, b) in buf.iter().take(10).enumerate() {
        v |= u64::from(b & 0x7f).checked_shl(7 * i as u32).unwrap_or(0);
        if b & 0x80 == 0 {
            return Ok((v, i + 1));
        }
    }
    Err(bad("a varint is truncated or too long"))
}

/// The FileMetaData a file ends with: `<metadata> <u32 length> PAR1`.
fn footer(bytes: &[u8]) -> Result<Node<'_>> {
    let n = bytes.len();
    if n < 12 || !bytes.starts_with(b"PAR1") || !bytes.ends_with(b"PAR1") {
        return Err(bad("it does not begin and end with PAR1"));
    }
    let len = le(&bytes[n - 8..n - 4]) as usize;
    if len > n - 12 {
        return Err(bad("its footer's metadata length is wrong"));
    }
    Thrift::new(&bytes[n - 8 - len..n - 8]).structure(0)
}

/// How a column's values become JSON (see [`kind`]).
#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    Plain,
    Unsigned,
    Date,
    /// Units per millisecond: 1, 1 000 or 1 000 000.
    Timestamp(i64),
    Decimal(i64),
}

struct Column {
    name: String,
    physical: i64,
    width: usize,
    optional: bool,
    kind: Kind,
}

/// The columns of a flat schema: a root, then one leaf per column.
fn columns(schema: &[Node]) -> Result<Vec<Column>> {
    let columns = schema.split_first().filter(|s| !s.1.is_empty());
    let (root, leaves) = need(columns, "its schema has no columns")?;
    let leaf = |e: &Node| e.int(5).unwrap_or(0) == 0 && e.int(1).is_some();
    if root.len(5) != Some(leaves.len()) || !leaves.iter().all(leaf) {
        return Err(unread("The Parquet schema nests groups, lists or maps"));
    }
    let column = |e: &Node| {
        let name = e.text(4);
        if e.int(3) == Some(2) {
            return Err(unread(format!("The Parquet column '{name}' is REPEATED")));
        }
        Ok(Column {
            name,
            physical: e.int(1).unwrap_or(-1),
            width: e.len(2).unwrap_or(0),
            optional: e.int(3) == Some(1),
            kind: kind(e),
        })
    };
    leaves.iter().map(column).collect()
}

/// How a column's values become JSON: from its LogicalType, a union
/// (field 10), or else its older ConvertedType (field 6).
fn kind(e: &Node) -> Kind {
    let (id, inner) = e.get(10).and_then(Node::member).unwrap_or((0, e));
    let unit = inner.get(2).and_then(Node::member).map(|(id, _)| id);
    match (id, e.int(6)) {
        (5, _) => Kind::Decimal(inner.int(1).unwrap_or(0)),
        (0, Some(5)) => Kind::Decimal(e.int(7).unwrap_or(0)),
        (6, _) | (0, Some(6)) => Kind::Date,
        (8, _) if unit == Some(2) => Kind::Timestamp(1_000),
        (8, _) if unit == Some(3) => Kind::Timestamp(1_000_000),
        (8, _) | (0, Some(9)) => Kind::Timestamp(1),
        (0, Some(10)) => Kind::Timestamp(1_000),
        (10, _) if inner.get(2) == Some(&Node::Bool(false)) => Kind::Unsigned,
        (0, Some(11..=14)) => Kind::Unsigned,
        _ => Kind::Plain,
    }
}

impl Column {
    fn int(&self, v: i64, bits: u32) -> Value {
        match self.kind {
            Kind::Date => Value::String(date(v)),
            Kind::Timestamp(per_ms) => Value::String(instant(v, per_ms)),
            Kind::Decimal(scale) => decimal(i128::from(v), scale),
            Kind::Unsigned => (v as u64 & u64::MAX >> (64 - bits)).into(),
            Kind::Plain => v.into(),
        }
    }

    fn bytes(&self, bytes: &[u8]) -> Value {
        match (self.kind, bytes) {
            (Kind::Decimal(scale), [first, rest @ ..]) if rest.len() < 16 => {
                // Big-endian two's complement.
                let v = i128::from(*first as i8);
                let v = rest.iter().fold(v, |v, b| v << 8 | i128::from(*b));
                decimal(v, scale)
            }
            _ => Value::String(String::from_utf8_lossy(bytes).into_owned()),
        }
    }
}

fn float(f: f64) -> Value {
    Number::from_f64(f).map_or(Value::Null, Value::Number)
}

/// `YYYY-MM-DD` of a day count from the epoch.
fn date(days: i64) -> String {
    let at = timestamp::format(days.saturating_mul(86_400_000));
    at.split('T').next().unwrap_or_default().to_owned()
}

/// RFC 3339 UTC of `v` units, `per_ms` a millisecond: to the millisecond,
/// or to the microsecond or nanosecond when that is what makes it exact.
fn instant(v: i64, per_ms: i64) -> String {
    let (ms, sub) = (v.div_euclid(per_ms), v.rem_euclid(per_ms));
    let finer = match per_ms {
        _ if sub == 0 => String::new(),
        1_000_000 if sub % 1_000 != 0 => format!("{sub:06}"),
        _ => format!("{:03}", sub / (per_ms / 1_000)),
    };
    let at = timestamp::format(ms);
    format!("{}{finer}Z", &at[..at.len() - 1])
}

/// The number `unscaled × 10^-scale`: exact when the scale is 0, else
/// the f64 nearest.
fn decimal(unscaled: i128, scale: i64) -> Value {
    let text = match scale {
        0 => unscaled.to_string(),
        _ => format!("{unscaled}e{}", -scale),
    };
    text.parse::<Number>().map_or(Value::Null, Value::Number)
}

/// The first `want` values of a column chunk: a dictionary page, if any, then
/// data pages (v1: definition levels, length-prefixed, and values compressed
/// together; v2: levels uncompressed, their length in the header, values).
fn column_chunk(
    file: &[u8],
    column: &Column,
    chunk: &Node,
    want: usize,
    budget: &[Cell<usize>; 2],
) -> Result<Vec<Value>> {
    let name = &column.name;
    if !chunk.text(1).is_empty() {
        return Err(unread(format!(
            "The Parquet column '{name}' is in another file"
        )));
    }
    let meta = need(chunk.get(3), "a column chunk has no metadata")?;
    if meta.int(1) != Some(column.physical) {
        return Err(bad(format!("column '{name}' has two types")));
    }
    let codec = meta.int(4).unwrap_or(0);
    let data_at = meta.int(9).unwrap_or(-1);
    let dictionary_at = meta.int(11).filter(|&d| d > 0 && d < data_at);
    let start = dictionary_at.unwrap_or(data_at);
    let span = usize::try_from(start).ok().zip(meta.len(7));
    let span = span.and_then(|(s, n)| file.get(s..s.checked_add(n)?));
    let mut t = Thrift::new(need(span, "a column chunk lies outside the file")?);
    // A page's bytes, uncompressed: `size` of them, its header says.
    let unzip = |body, size: i64| {
        let size = need(usize::try_from(size).ok(), "a page has no size")?;
        if codec == 0 {
            return Ok(Cow::Borrowed(body));
        }
        spend(&budget[1], size, DECODED)?;
        let out = match codec {
            1 => snappy(body)?,
            2 => {
                let mut out = Vec::new();
                let mut gzip = flate2::read::GzDecoder::new(body).take(size as u64 + 1);
                let read = gzip.read_to_end(&mut out);
                read.map_err(|e| bad(format!("a GZIP page does not decompress: {e}")))?;
                out
            }
            other => return Err(unread_named(name, "is compressed with", CODECS, other)),
        };
        match out.len() == size {
            true => Ok(Cow::Owned(out)),
            false => Err(bad(format!("a page is not the {size} bytes it says"))),
        }
    };
    let (mut dictionary, mut out) = (Vec::new(), Vec::new());
    while out.len() < want && t.pos < t.buf.len() {
        t.nodes = MAX_NODES;
        let header = t.structure(0)?;
        let body = t.take(need(header.len(3), "a page has no size")?)?;
        let size = header.int(2).unwrap_or(-1);
        // The page's own header: 5 data (v1), 7 dictionary, 8 data v2.
        let (kind, own) = (header.int(1), [5, 7, 8].map(|id| header.get(id)));
        let own = own.into_iter().flatten().next();
        let Some(own) = own else { continue }; // an index page
        let count = need(own.len(1), "a page has no value count")?;
        let take = count.min(want - out.len());
        let (defs, data, at) = match kind {
            Some(2) => {
                dictionary = plain(&unzip(body, size)?, column, count)?;
                continue;
            }
            Some(3) => {
                let (rep, def) = (own.len(6).unwrap_or(0), own.len(5).unwrap_or(0));
                let split = rep.checked_add(def).filter(|&n| n <= body.len());
                let split = need(split, "a page's levels run past its end")?;
                let defs = column.optional.then(|| rle(&body[rep..split], 1, take));
                let data = match own.get(7) {
                    Some(Node::Bool(false)) => Cow::Borrowed(&body[split..]),
                    _ => unzip(&body[split..], size - split as i64)?,
                };
                (defs.transpose()?, data, 0)
            }
            _ if column.optional => {
                let data = unzip(body, size)?;
                let len = need(prefix(&data), "a page's levels run past its end")?;
                (Some(rle(&data[4..4 + len], 1, take)?), data, 4 + len)
            }
            _ => (None, unzip(body, size)?, 0),
        };
        let present = defs.as_ref().map(|d| d.iter().filter(|&&l| l == 1).count());
        let present = present.unwrap_or(take);
        let encoding = own.int(if kind == Some(3) { 4 } else { 2 }).unwrap_or(0);
        let values = match encoding {
            2 | 8 => lookup(&data[at..], &dictionary, present, &budget[1])?,
            _ => decode(&data[at..], encoding, column, present)?,
        };
        // Null where a definition level is 0 (a REQUIRED column has none).
        let (defs, mut values) = (defs.unwrap_or_else(|| vec![1; present]), values.into_iter());
        let value = |level| if level == 1 { values.next() } else { None };
        out.extend(defs.into_iter().map(value).map(Option::unwrap_or_default));
    }
    Ok(out)
}

/// The little-endian u32 length that starts `data`, if that many bytes follow.
fn prefix(data: &[u8]) -> Option<usize> {
    let len = le(data.get(..4)?) as usize;
    (len <= data.len() - 4).then_some(len)
}

/// `n` values of a page, as its encoding says.
fn decode(data: &[u8], enc: i64, column: &Column, n: usize) -> Result<Vec<Value>> {
    match enc {
        0 => plain(data, column, n),
        3 if column.physical == BOOLEAN => {
            let len = need(prefix(data), "RLE booleans run past their page")?;
            let bits = rle(&data[4..4 + len], 1, n)?;
            Ok(bits.into_iter().map(|b| Value::Bool(b == 1)).collect())
        }
        other => Err(unread_named(&column.name, "is encoded", ENCODINGS, other)),
    }
}

/// `n` dictionary-encoded values: a bit width, then RLE/bit-packed indices.
/// Each is a copy: its string's bytes count against what a read may decode.
fn lookup(data: &[u8], dict: &[Value], n: usize, left: &Cell<usize>) -> Result<Vec<Value>> {
    let (&width, indices) = need(data.split_first(), "a page is empty")?;
    let indices = rle(indices, u32::from(width), n)?;
    let entry = |i: &u32| dict.get(*i as usize);
    let size = |i| entry(i).map_or(0, |v: &Value| v.as_str().map_or(0, str::len));
    spend(left, indices.iter().map(size).sum(), DECODED)?;
    let values = indices.iter().map(|i| entry(i).cloned());
    need(values.collect(), "a page refers past its dictionary")
}

/// `n` PLAIN-encoded values.
fn plain(data: &[u8], column: &Column, n: usize) -> Result<Vec<Value>> {
    let short = || bad(format!("column '{}' is short of values", column.name));
    let int96 = || unread(format!("The Parquet column '{}' is INT96", column.name));
    let bit = |i: usize| Value::Bool(data[i / 8] >> (i % 8) & 1 == 1);
    let (width, read): (_, fn(&Column, &[u8]) -> Value) = match column.physical {
        BOOLEAN if n > data.len().saturating_mul(8) => return Err(short()),
        BOOLEAN => return Ok((0..n).map(bit).collect()),
        BYTE_ARRAY => {
            // Each a 4-byte length, then its bytes.
            let mut t = Thrift::new(data);
            let mut next = || t.take(4).and_then(|len| t.take(le(len) as usize));
            return (0..n).map(|_| next().map(|b| column.bytes(b))).collect();
        }
        INT32 => (4, |c, b| c.int(i64::from(le(b) as i32), 32)),
        INT64 => (8, |c, b| c.int(le(b) as i64, 64)),
        FLOAT => (4, |_, b| float(f32::from_bits(le(b) as u32).into())),
        DOUBLE => (8, |_, b| float(f64::from_bits(le(b)))),
        INT96 => return Err(int96()),
        _ => (column.width, Column::bytes),
    };
    if width == 0 || n.checked_mul(width).is_none_or(|size| size > data.len()) {
        return Err(short());
    }
    let values = data.chunks_exact(width).take(n);
    Ok(values.map(|b| read(column, b)).collect())
}

/// The first `n` values of RLE/bit-packed hybrid data `width` bits wide:
/// runs, each a varint whose low bit says which: 0, a count and one value
/// repeated; 1, a count of groups of eight values bit-packed low bit first.
fn rle(data: &[u8], width: u32, n: usize) -> Result<Vec<u32>> {
    if width > 32 {
        return Err(bad(format!("a bit width of {width}")));
    }
    let (mask, width) = ((1u64 << width) - 1, width as usize);
    let (mut out, mut i) = (Vec::new(), 0);
    while out.len() < n {
        let (head, used) = uvarint(&data[i..])?;
        i += used;
        let runs = usize::try_from(head >> 1).unwrap_or(usize::MAX);
        let wanted = n - out.len();
        if head & 1 == 0 {
            let value = need(data.get(i..i + width.div_ceil(8)), "a cut RLE run")?;
            i += value.len();
            out.extend(std::iter::repeat_n(le(value) as u32, runs.min(wanted)));
            continue;
        }
        let count = runs.saturating_mul(8).min(wanted);
        let packed = &data[i..data.len().min(i.saturating_add(runs.saturating_mul(width)))];
        if (count * width).div_ceil(8) > packed.len() {
            return Err(bad("a bit-packed run is truncated"));
        }
        for bit in (0..count).map(|j| j * width) {
            let window = le(&packed[bit / 8..packed.len().min(bit / 8 + 5)]);
            out.push((window >> (bit % 8) & mask) as u32);
        }
        i += packed.len();
    }
    Ok(out)
}

/// A raw Snappy block: its length (a varint), then elements, each a tag byte
/// whose low bits say which: 0, a literal (its length in the tag or the 1–4
/// bytes after); 1–3, a copy of earlier output (offset in 1, 2, 4 bytes).
fn snappy(input: &[u8]) -> Result<Vec<u8>> {
    let (len, mut i) = uvarint(input)?;
    // A copy of 64 bytes takes 3: no block grows more than 22-fold.
    if len > input.len() as u64 * 22 {
        return Err(bad("a Snappy block claims more bytes than it could hold"));
    }
    let mut out = Vec::with_capacity(len as usize);
    while let Some(&tag) = input.get(i) {
        let size = usize::from(tag >> 2);
        let extra = [size.saturating_sub(59), 1, 2, 4][usize::from(tag & 3)];
        let after = need(input.get(i + 1..i + 1 + extra), "a cut Snappy tag")?;
        let after = le(after) as usize;
        i += 1 + extra;
        let (n, offset) = match tag & 3 {
            0 => {
                let n = if size < 60 { size + 1 } else { after + 1 };
                let literal = input.get(i..i.saturating_add(n));
                out.extend_from_slice(need(literal, "a Snappy literal is truncated")?);
                i += n;
                continue;
            }
            1 => (4 + (size & 7), usize::from(tag >> 5) << 8 | after),
            _ => (size + 1, after),
        };
        if offset == 0 || offset > out.len() || out.len() + n > len as usize {
            return Err(bad("a Snappy copy reaches outside its block"));
        }
        // Byte by byte: a copy may overlap what it writes.
        for _ in 0..n {
            out.push(out[out.len() - offset]);
        }
    }
    if out.len() != len as usize {
        return Err(bad("a Snappy block is not the length it says"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A file made by hand: column `n` (INT32, REQUIRED, PLAIN, not
    /// compressed) holding 1, 2, 3 in one page, the 29 bytes at offset 4.
    fn tiny() -> Vec<u8> {
        let page = [
            0x15, 0, 0x15, 24, 0x15, 24, 0x2c, 0x15, 6, 0x15, 0, 0x15, 6, 0x15, 6, 0, 0,
        ];
        let values = [1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0];
        // FileMetaData: version; schema (root `r`, one child; `n`); 3 rows;
        // a row group of one column chunk.
        let meta = [
            0x15, 2, 0x19, 0x2c, 0x48, 1, b'r', 0x15, 2, 0, 0x15, 2, 0x25, 0, 0x18, 1, b'n', 0,
            0x16, 6, 0x19, 0x1c, 0x19, 0x1c, 0x26, 8, 0x1c, 0x15, 2, 0x19, 0x15, 0, 0x19, 0x18, 1,
            b'n', 0x15, 0, 0x16, 6, 0x16, 58, 0x16, 58, 0x26, 8, 0, 0, 0x16, 58, 0x16, 6, 0, 0,
        ];
        let length = (meta.len() as u32).to_le_bytes();
        [&b"PAR1"[..], &page, &values, &meta, &length, b"PAR1"].concat()
    }

    #[test]
    fn a_hand_made_file_reads_and_a_damaged_one_fails() {
        let file = tiny();
        let rows = [json!({"n": 1}), json!({"n": 2}), json!({"n": 3})];
        assert_eq!(items(&file, 0).unwrap(), rows);
        assert_eq!(items(&file, 2).unwrap(), rows[..2]);
        assert!((0..file.len()).all(|cut| items(&file[..cut], 0).is_err()));
        // Any byte made any value: rows or an error, never a panic.
        for (i, b) in (0..file.len()).flat_map(|i| (0..=255).map(move |b| (i, b))) {
            let mut damaged = file.clone();
            damaged[i] = b;
            let _ = items(&damaged, 0);
        }
    }

    #[test]
    fn compact_protocol_reads_long_ids_and_refuses_deep_or_long_data() {
        assert_eq!(uvarint(&[0x96, 0x01]).unwrap(), (150, 2));
        // Field 1: i32 -3 (zigzag 5); 3: a double; 300 (its id in full): a
        // list of two booleans.
        let bytes = [
            0x15, 5, 0x27, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 9, 0xd8, 4, 0x21, 1, 2, 0,
        ];
        let node = Thrift::new(&bytes).structure(0).unwrap();
        assert_eq!((node.int(1), node.list(300).len()), (Some(-3), 2));
        assert!(Thrift::new(&bytes[..12]).structure(0).is_err());
        assert!(Thrift::new(&[0x1c; 64]).structure(0).is_err()); // too deep
        assert!(Thrift::new(&[0x19, 0xf5, 0xff, 0x0f]).structure(0).is_err()); // too long
    }

    #[test]
    fn rle_hybrid_and_snappy_decode_by_hand() {
        // Three 5s, then one group of 0..=7 bit-packed three bits each.
        let data = [0x06, 5, 0x03, 0x88, 0xc6, 0xfa];
        let all = [5, 5, 5, 0, 1, 2, 3, 4, 5, 6, 7];
        assert_eq!(rle(&data, 3, 11).unwrap(), all);
        assert_eq!(rle(&data, 3, 2).unwrap(), [5, 5]);
        assert!(rle(&data[..4], 3, 11).is_err());
        // "abcd", then 8 bytes from 4 back (overlapping what they write).
        let block = [12, 3 << 2, b'a', b'b', b'c', b'd', 4 << 2 | 1, 4];
        assert_eq!(snappy(&block).unwrap(), b"abcdabcdabcd");
        // "xy", then 4 bytes from 2 back (a two-byte offset).
        let xy = [6, 1 << 2, b'x', b'y', 3 << 2 | 2, 2, 0];
        assert_eq!(snappy(&xy).unwrap(), b"xyxyxy");
        assert!(snappy(&[12, 3 << 2, b'a', b'b', b'c', b'd', 4 << 2 | 1, 5]).is_err());
        assert!(snappy(&[200, 1]).is_err()); // longer than it could be
        assert!(snappy(&block[..6]).is_err()); // shorter than it says
        assert_eq!(instant(-1, 1_000_000), "1969-12-31T23:59:59.999999999Z");
    }
}
