//! `MiMalloc::stats_json` / `mi_stats_get_json` write upstream v2.4's document (stat_version 4):
//! the same keys in the same order, the same nesting and value types, so a consumer written for
//! upstream's document reads ours. Parsed here with a small strict JSON reader (no dependency),
//! and checked against `mimalloc::stats()` and `process_info()`.

use mimalloc::MiMalloc;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

#[derive(Debug, Clone, PartialEq)]
enum Json {
    Int(i64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    fn get(&self, key: &str) -> &Json {
        match self {
            Json::Obj(fields) => {
                &fields
                    .iter()
                    .find(|(k, _)| k == key)
                    .unwrap_or_else(|| panic!("no key {key:?}"))
                    .1
            }
            other => panic!("{other:?} is not an object"),
        }
    }
    fn int(&self) -> i64 {
        match self {
            Json::Int(n) => *n,
            other => panic!("{other:?} is not an integer"),
        }
    }
    fn keys(&self) -> Vec<&str> {
        match self {
            Json::Obj(fields) => fields.iter().map(|(k, _)| k.as_str()).collect(),
            other => panic!("{other:?} is not an object"),
        }
    }
}

struct Reader<'a> {
    s: &'a [u8],
    i: usize,
}

impl Reader<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }
    fn eat(&mut self, c: u8) {
        self.ws();
        assert_eq!(
            self.s.get(self.i),
            Some(&c),
            "expected {:?} at byte {}",
            c as char,
            self.i
        );
        self.i += 1;
    }
    fn peek(&mut self) -> u8 {
        self.ws();
        *self.s.get(self.i).expect("unexpected end of the document")
    }
    fn value(&mut self) -> Json {
        match self.peek() {
            b'{' => {
                self.eat(b'{');
                let mut fields = Vec::new();
                if self.peek() == b'}' {
                    self.eat(b'}');
                    return Json::Obj(fields);
                }
                loop {
                    let Json::Str(key) = self.value() else {
                        panic!("key is not a string")
                    };
                    self.eat(b':');
                    fields.push((key, self.value()));
                    if self.peek() == b',' {
                        self.eat(b',');
                    } else {
                        self.eat(b'}');
                        return Json::Obj(fields);
                    }
                }
            }
            b'[' => {
                self.eat(b'[');
                let mut items = Vec::new();
                if self.peek() == b']' {
                    self.eat(b']');
                    return Json::Arr(items);
                }
                loop {
                    items.push(self.value());
                    if self.peek() == b',' {
                        self.eat(b',');
                    } else {
                        self.eat(b']');
                        return Json::Arr(items);
                    }
                }
            }
            b'"' => {
                self.eat(b'"');
                let start = self.i;
                while self.s[self.i] != b'"' {
                    assert_ne!(self.s[self.i], b'\\', "no escapes expected in key names");
                    self.i += 1;
                }
                self.i += 1;
                Json::Str(String::from_utf8(self.s[start..self.i - 1].to_vec()).unwrap())
            }
            _ => {
                let start = self.i;
                if self.s[self.i] == b'-' {
                    self.i += 1;
                }
                while self.i < self.s.len() && self.s[self.i].is_ascii_digit() {
                    self.i += 1;
                }
                let text = std::str::from_utf8(&self.s[start..self.i]).unwrap();
                Json::Int(
                    text.parse()
                        .unwrap_or_else(|_| panic!("not an integer: {text:?} at byte {start}")),
                )
            }
        }
    }
}

fn parse(text: &str) -> Json {
    let mut r = Reader {
        s: text.as_bytes(),
        i: 0,
    };
    let v = r.value();
    r.ws();
    assert_eq!(r.i, text.len(), "trailing text after the document");
    v
}

const COUNT: &[&str] = &["total", "peak", "current"];
const BIN: &[&str] = &["total", "peak", "current", "block_size", "page_size"];

/// Upstream v2.4.1's top-level keys in order, each with its shape: "int", "count" or "bins".
const SCHEMA: &[(&str, &str)] = &[
    ("stat_version", "int"),
    ("mimalloc_version", "int"),
    ("process", "process"),
    ("pages", "count"),
    ("reserved", "count"),
    ("committed", "count"),
    ("reset", "int"),
    ("purged", "int"),
    ("page_committed", "count"),
    ("pages_abandoned", "count"),
    ("threads", "count"),
    ("malloc_normal", "count"),
    ("malloc_huge", "count"),
    ("malloc_requested", "count"),
    ("mmap_calls", "int"),
    ("commit_calls", "int"),
    ("reset_calls", "int"),
    ("purge_calls", "int"),
    ("arena_count", "int"),
    ("malloc_normal_count", "int"),
    ("malloc_huge_count", "int"),
    ("malloc_guarded_count", "int"),
    ("arena_rollback_count", "int"),
    ("arena_purges", "int"),
    ("pages_extended", "int"),
    ("pages_retire", "int"),
    ("page_searches", "int"),
    ("page_searches_count", "int"),
    ("segments", "count"),
    ("segments_abandoned", "count"),
    ("segments_cache", "count"),
    ("_segments_reserved", "count"),
    ("pages_reclaim_on_alloc", "int"),
    ("pages_reclaim_on_free", "int"),
    ("pages_reabandon_full", "int"),
    ("pages_unabandon_busy_wait", "int"),
    ("malloc_bins", "bins"),
    ("page_bins", "bins"),
];

const PROCESS: &[&str] = &[
    "elapsed_msecs",
    "user_msecs",
    "system_msecs",
    "page_faults",
    "rss_current",
    "rss_peak",
    "commit_current",
    "commit_peak",
];

#[test]
fn document_has_upstream_v2_4_schema_and_our_numbers() {
    // something to count: live small blocks of several classes and one huge block
    let small: Vec<Vec<u8>> = (1..200).map(|n| vec![1u8; n * 24]).collect();
    let huge = vec![7u8; 8 << 20];

    // The text is allocated (with mi_malloc) after its numbers are taken: a first call makes
    // the page it goes to, so the second one's text moves no count. stats() allocates nothing
    // and is taken before the parse tree is.
    drop(MiMalloc::stats_json().expect("memory for the text"));
    let json = MiMalloc::stats_json().expect("memory for the text");
    let st = mimalloc::stats();
    let doc = parse(json.to_str().expect("UTF-8"));

    assert_eq!(
        doc.keys(),
        SCHEMA.iter().map(|(k, _)| *k).collect::<Vec<_>>()
    );
    for (key, shape) in SCHEMA {
        let v = doc.get(key);
        match *shape {
            "int" => {
                v.int();
            }
            "count" => {
                assert_eq!(v.keys(), COUNT, "{key}");
                assert!(
                    v.get("peak").int() >= v.get("current").int(),
                    "{key}: peak below current"
                );
            }
            "process" => assert_eq!(v.keys(), PROCESS),
            "bins" => {
                let Json::Arr(bins) = v else {
                    panic!("{key} is not an array")
                };
                assert_eq!(
                    bins.len(),
                    st.size_classes.len() - 1,
                    "{key}: one entry per bin up to the huge bin"
                );
                for (bin, entry) in bins.iter().enumerate() {
                    assert_eq!(entry.keys(), BIN, "{key}[{bin}]");
                    let block_size = entry.get("block_size").int() as usize;
                    assert_eq!(block_size, st.size_classes[bin].block_size, "{key}[{bin}]");
                    let page_size = entry.get("page_size").int() as usize;
                    assert!(
                        (block_size == 0 && page_size == 0)
                            || page_size >= 4 * block_size.min(1 << 20),
                        "{key}[{bin}]: block {block_size} in a page of {page_size}"
                    );
                }
            }
            _ => unreachable!(),
        }
    }

    assert_eq!(doc.get("stat_version").int(), 4);
    assert_eq!(doc.get("mimalloc_version").int(), MiMalloc.version() as i64);
    let process = doc.get("process");
    assert!(process.get("rss_current").int() > 0);
    assert!(process.get("rss_peak").int() >= process.get("rss_current").int());
    assert!(process.get("commit_peak").int() >= process.get("commit_current").int());
    assert!(doc.get("threads").get("current").int() >= 1);
    assert_eq!(
        doc.get("malloc_huge").get("current").int(),
        st.huge_bytes.current
    );
    assert!(doc.get("malloc_huge").get("current").int() >= 8 << 20);
    assert_eq!(doc.get("malloc_huge_count").int(), st.huge_count);
    assert_eq!(doc.get("threads").get("current").int(), st.threads.current);
    assert_eq!(
        doc.get("segments").get("current").int(),
        st.segments.current
    );
    assert_eq!(doc.get("mmap_calls").int(), st.mmap_calls);
    for (key, count) in [
        ("pages", st.pages),
        ("reserved", st.reserved),
        ("committed", st.committed),
        ("malloc_normal", st.normal_bytes),
    ] {
        assert_eq!(doc.get(key).get("current").int(), count.current, "{key}");
        assert_eq!(doc.get(key).get("total").int(), count.total, "{key}");
    }
    let purged = doc.get("purged").int();
    assert!(purged >= 0 && purged <= st.purged.total);
    // page_bins are our pages per size class: their live pages add up to `pages`
    let Json::Arr(page_bins) = doc.get("page_bins") else {
        unreachable!()
    };
    let live: i64 = page_bins.iter().map(|b| b.get("current").int()).sum();
    assert_eq!(live, doc.get("pages").get("current").int());
    assert!(live > 0);
    drop((small, huge));
}
