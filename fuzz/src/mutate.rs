//! The mutator: a small, deterministic xorshift generator and the edits it
//! makes to a seed (byte flips, deletions, duplications, splices of tokens
//! that mean something to ASL, JSONPath, intrinsics and JSONata).

/// xorshift64*: fast, good enough to steer mutations, reproducible by seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Pieces that reach deep into the parsers and evaluators.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    "\"",
    "'",
    ",",
    ":",
    ".",
    "..",
    "*",
    "?",
    "@",
    "$",
    "$$",
    ".$",
    "{%",
    "%}",
    "\\",
    "\\'",
    "\\\"",
    "\u{a0}",
    "\u{85}",
    "\u{2028}",
    "\u{0}",
    "😀",
    "é",
    "-1",
    "0",
    "1e308",
    "-1e309",
    "9223372036854775807",
    "-9223372036854775808",
    "1.5",
    "null",
    "true",
    "false",
    "States.Format(",
    "States.JsonToString(",
    "States.StringToJson(",
    "States.Array(",
    "States.ArrayRange(",
    "States.ArrayPartition(",
    "States.ArrayContains(",
    "States.ArrayGetItem(",
    "States.ArrayLength(",
    "States.ArrayUnique(",
    "States.Base64Encode(",
    "States.Base64Decode(",
    "States.Hash(",
    "States.JsonMerge(",
    "States.MathRandom(",
    "States.MathAdd(",
    "States.StringSplit(",
    "States.UUID()",
    "$.a",
    "$.b[0]",
    "$[*]",
    "$..x",
    "$[?(@.a > 1)]",
    "$[-1:]",
    "$[::2]",
    "$.length()",
    "$x",
    "$states.input",
    "$states.context",
    "$pad(",
    "$join(",
    "$string(",
    "$split(",
    "$substring(",
    "$formatNumber(",
    "$formatBase(",
    "$formatInteger(",
    "$fromMillis(",
    "$toMillis(",
    "$range(",
    "$partition(",
    "$parse(",
    "$hash(",
    "$random(",
    "$sum(",
    "$map(",
    "$reduce(",
    "$sort(",
    "$match(",
    "$replace(",
    "$power(",
    "$round(",
    "[1..100000]",
    "function($v){$v}",
    ":=",
    "~>",
    "&",
    "?",
    "**",
    "%",
    "#$i",
    "@$v",
    "/re/",
    "Type",
    "Pass",
    "Task",
    "Choice",
    "Wait",
    "Map",
    "Parallel",
    "Fail",
    "Succeed",
    "Next",
    "End",
    "Parameters",
    "ResultPath",
    "OutputPath",
    "InputPath",
    "ResultSelector",
    "ItemSelector",
    "ItemsPath",
    "Items",
    "Output",
    "Assign",
    "Arguments",
    "Retry",
    "Catch",
    "ErrorEquals",
    "States.ALL",
    "MaxAttempts",
    "Seconds",
    "Timestamp",
    "TimestampPath",
    "Variable",
    "NumericLessThan",
    "StringMatches",
    "And",
    "Not",
    "Condition",
    "Default",
    "Branches",
    "ItemProcessor",
    "MaxConcurrency",
    "ToleratedFailurePercentage",
    "ItemBatcher",
    "QueryLanguage",
    "JSONata",
    "JSONPath",
    "arn:aws:states:::lambda:invoke",
    "arn:aws:states:::http:invoke",
    "arn:aws:states:us-east-1:123456789012:aws-sdk:s3:getObject",
    "2016-03-14T01:59:00Z",
];

/// One to four edits of `seed`, or a splice of two seeds.
pub fn mutate(rng: &mut Rng, seed: &str, other: &str) -> String {
    let mut b: Vec<char> = seed.chars().collect();
    let edits = 1 + rng.below(4);
    for _ in 0..edits {
        let at = rng.below(b.len() + 1);
        match rng.below(7) {
            0 if !b.is_empty() => {
                let i = at.min(b.len() - 1);
                b[i] = char::from_u32(rng.next() as u32 % 0x80).unwrap_or('x');
            }
            1 if !b.is_empty() => {
                let end = (at + 1 + rng.below(8)).min(b.len());
                b.drain(at.min(end)..end);
            }
            2 | 3 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                b.splice(at..at, t.chars());
            }
            4 if !b.is_empty() => {
                // Repeat a run: deep nesting and long values.
                let start = at.min(b.len() - 1);
                let end = (start + 1 + rng.below(6)).min(b.len());
                let run: Vec<char> = b[start..end].to_vec();
                let most = if rng.below(20) == 0 { 400 } else { 4 };
                let times = 1 + rng.below(most);
                for _ in 0..times {
                    b.splice(end..end, run.iter().copied());
                }
            }
            5 => {
                let o: Vec<char> = other.chars().collect();
                let from = rng.below(o.len() + 1);
                let to = (from + rng.below(40)).min(o.len());
                b.splice(at..at, o[from..to].iter().copied());
            }
            _ => {
                let t = TOKENS[rng.below(TOKENS.len())];
                b.splice(at..at, t.chars());
            }
        }
        if b.len() > 64 * 1024 {
            b.truncate(64 * 1024);
        }
    }
    b.into_iter().collect()
}
