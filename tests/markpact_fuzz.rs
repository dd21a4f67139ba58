//! Deterministic stand-in for the cargo-fuzz target (`fuzz/fuzz_targets/parse.rs`): ~20k
//! pseudo-random mutations of markpact documents go through the parser, which must never
//! panic, must report errors sorted by line and must only accept valid paths.
use pactown::markpact;
use std::path::Path;

/// xorshift64*, good enough to drive mutations reproducibly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const SEEDS: &[&str] = &[
    "# Demo\n\n```python markpact:deps\nfastapi\nuvicorn\n```\n\n```python markpact:file path=main.py\nfrom fastapi import FastAPI\napp = FastAPI()\n```\n\n```bash markpact:run\nuvicorn main:app --port ${MARKPACT_PORT:-8001}\n```\n\n```http markpact:test\nGET /health EXPECT 200\nPOST /x BODY {\"a\": 1} EXPECT 201\n```\n",
    "````markdown markpact:file path=docs/API.md\n```json\n{}\n```\n````\n\n~~~go markpact:file path=main.go\npackage main\n~~~\n\n```markpact:run go\ngo run .\n```\n",
    "> ```python markpact:file path=a.py\n> x\n> ```\n\n- item\n\n  ```js markpact:file path=b.js\n  y\n  ```\n\n  ```html markpact:file path=index.html\n  <h1>x</h1>\n  ```\n",
    "```yaml markpact:target\nplatform: web\n```\n```text markpact:deps node\nexpress@^4\n@types/node@20\n```\n```json markpact:file path=package.json\n{}\n```\n```text markpact:file path=.env.example\nA=1\n```\n",
    "```python markpact:file path=\"src/a b.py\" mode=0755 x y\n```\n```python markpact:FILE path=a\n```\n```markpact:file:main.py\n```\n```python x markpact:run\n```\n```bash markpact:run\n\n```\n",
];

const TOKENS: &[&[u8]] = &[
    b"```",
    b"````",
    b"~~~",
    b"\n",
    b"\r\n",
    b"\r",
    b" ",
    b"\t",
    b"   ",
    b"    ",
    b"> ",
    b"- ",
    b"1. ",
    b"markpact:",
    b"markpact:file ",
    b"markpact:run",
    b"markpact:deps",
    b"markpact:test",
    b"markpact:target",
    b"path=",
    b"path=\"",
    b"\"",
    b"../",
    b"/",
    b"./",
    b".git/",
    b"=",
    b"#",
    b" #",
    b"${MARKPACT_PORT:-",
    b"}",
    b"$(",
    b"`",
    b"'",
    b"\\",
    b"\xff",
    b"\xef\xbb\xbf",
    b"\x00",
    b"<div>\n",
    b"GET /",
    b" EXPECT ",
    b" BODY ",
    b"-e .",
    b"git+https://x",
    b"python ",
    b"node ",
    b"go ",
    b"system",
    b"\xc3\xa9",
    b"[",
    b"]",
    b"*",
    b"&amp;",
];

fn mutate(rng: &mut Rng, doc: &mut Vec<u8>) {
    for _ in 0..=rng.below(4) {
        let len = doc.len();
        match rng.below(7) {
            0 if len > 0 => {
                let i = rng.below(len);
                doc[i] ^= 1 << rng.below(8);
            }
            1 => {
                let token = TOKENS[rng.below(TOKENS.len())];
                let i = rng.below(len + 1);
                doc.splice(i..i, token.iter().copied());
            }
            2 if len > 0 => {
                let i = rng.below(len);
                let n = rng.below(16).min(len - i);
                doc.drain(i..i + n);
            }
            3 if len > 0 => {
                let i = rng.below(len);
                let n = rng.below(64).min(len - i);
                let chunk: Vec<u8> = doc[i..i + n].to_vec();
                let j = rng.below(len + 1);
                doc.splice(j..j, chunk);
            }
            4 if len > 0 => doc.truncate(rng.below(len)),
            5 if len > 0 => {
                let i = rng.below(len);
                let set = b"`~ \n\t>-=\"/.:$";
                doc[i] = set[rng.below(set.len())];
            }
            _ => {
                let other = SEEDS[rng.below(SEEDS.len())].as_bytes();
                let i = rng.below(len + 1);
                doc.splice(i..i, other.iter().copied());
            }
        }
    }
}

#[test]
fn random_mutations_never_panic_and_errors_are_sorted() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut oks, mut errs) = (0usize, 0usize);
    for iteration in 0..20_000 {
        let mut doc = SEEDS[iteration % SEEDS.len()].as_bytes().to_vec();
        mutate(&mut rng, &mut doc);
        if doc.len() > 16 * 1024 {
            doc.truncate(16 * 1024);
        }
        let result = markpact::parse(Path::new("README.md"), &doc);
        match &result {
            Ok(m) => {
                oks += 1;
                for f in &m.files {
                    assert_eq!(
                        markpact::validate_path(&f.path, 255).ok().as_deref(),
                        Some(f.path.as_str()),
                        "accepted an invalid path in {:?}",
                        String::from_utf8_lossy(&doc)
                    );
                    assert!(!f.contents.contains('\r'));
                }
                assert!(m.warnings.windows(2).all(|w| w[0].line <= w[1].line));
                let _ = markpact::validate(m);
            }
            Err(d) => {
                errs += 1;
                assert!(d.has_errors(), "Err without an error: {d}");
                assert!(
                    d.0.windows(2).all(|w| w[0].line <= w[1].line),
                    "unsorted diagnostics for {:?}: {d}",
                    String::from_utf8_lossy(&doc)
                );
            }
        }
        let json = markpact::canonical_json(&result);
        assert_eq!(json["ok"].as_bool(), Some(result.is_ok()));
        if let Ok(text) = std::str::from_utf8(&doc) {
            let _ = markpact::expand_static(text, &|_| None);
            let _ = markpact::guess_port(text);
        }
    }
    // The mutations must exercise both outcomes, or the test proves little.
    eprintln!("ok={oks} err={errs}");
    assert!(oks > 1_000 && errs > 1_000, "ok={oks} err={errs}");
}
