//! pactown's own event journal: the lifecycle events no engine records — image builds (started,
//! finished or found by tag, failed) and the results of pactown's health probes — appended as
//! JSON lines to one file per ecosystem (a tenant's copy is its own ecosystem,
//! `<ecosystem>--<tenant>`), under the state directory ([`state_dir`]):
//! `<state>/journal/<ecosystem>.jsonl`.
//!
//! Every line is written with one `write` on a file opened with `O_APPEND`, so lines of
//! concurrent pactown processes never interleave. When a write would take the file past
//! [`MAX_BYTES`] it is renamed to `<file>.1` (replacing the previous one) and a new file starts, so
//! a journal takes at most twice that. Readers skip lines they cannot parse (a torn or foreign
//! line costs that line only). The journal is a convenience: callers report a failure to write it
//! as a debug message ([`record`]) and never fail a command because of it.
use super::events::{EventKind, LifecycleEvent};
use crate::image::{BuildError, BuildEvent};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

/// Size at which the journal file is rotated to `<file>.1`.
pub const MAX_BYTES: u64 = 1 << 20;
/// How much of the journal's end `status` reads.
pub const TAIL_BYTES: u64 = 256 * 1024;
/// Longest `detail` kept in the journal, characters.
pub const DETAIL_CHARS: usize = 300;

/// Why the journal could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the event journal {}: {source}", path.display())]
pub struct JournalError {
    /// The journal file (or its folder).
    pub path: PathBuf,
    /// The IO error.
    pub source: std::io::Error,
}

/// The state directory: `$PACTOWN_STATE_DIR`, else `$XDG_STATE_HOME/pactown`, else
/// `$HOME/.local/state/pactown`; `None` when none of them is set.
#[must_use]
pub fn state_dir() -> Option<PathBuf> {
    state_dir_from(|k| std::env::var_os(k))
}

/// [`state_dir`] with the environment given as a lookup function.
#[must_use]
pub fn state_dir_from(var: impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    let set = |k: &str| var(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    set("PACTOWN_STATE_DIR")
        .or_else(|| {
            // the XDG spec ignores relative paths
            set("XDG_STATE_HOME")
                .filter(|p| p.is_absolute())
                .map(|d| d.join("pactown"))
        })
        .or_else(|| set("HOME").map(|h| h.join(".local").join("state").join("pactown")))
}

/// The file name of an ecosystem's journal: the name with anything but letters, digits, `_`,
/// `.` and `-` replaced by `_` (and no leading `.`), plus `.jsonl`.
#[must_use]
pub fn file_name(ecosystem: &str) -> String {
    let mut name: String = ecosystem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() || name.starts_with('.') {
        name.insert(0, '_');
    }
    format!("{name}.jsonl")
}

/// One line of the journal: the event, and the process that wrote it (so `events -f` can skip
/// what it wrote itself).
#[derive(Serialize)]
struct LineOut<'a> {
    #[serde(flatten)]
    event: &'a LifecycleEvent,
    pid: u32,
}

#[derive(Deserialize)]
struct LineIn {
    #[serde(flatten)]
    event: LifecycleEvent,
    #[serde(default)]
    pid: Option<u32>,
}

/// The journal of one ecosystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Journal {
    path: PathBuf,
    max_bytes: u64,
}

impl Journal {
    /// The journal at `path` (rotated at [`MAX_BYTES`]).
    #[must_use]
    pub fn at(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            max_bytes: MAX_BYTES,
        }
    }

    /// The journal of `ecosystem` (the tenant's ecosystem name for a tenant's copy) in the state
    /// directory; `None` when no state directory can be found.
    #[must_use]
    pub fn for_ecosystem(ecosystem: &str) -> Option<Self> {
        state_dir().map(|d| Self::at(d.join("journal").join(file_name(ecosystem))))
    }

    /// This journal rotated at `max_bytes` instead of [`MAX_BYTES`].
    #[must_use]
    pub fn with_max_bytes(mut self, max_bytes: u64) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// The journal file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The previous file, `<file>.1`.
    #[must_use]
    pub fn rotated_path(&self) -> PathBuf {
        let mut p = self.path.as_os_str().to_os_string();
        p.push(".1");
        PathBuf::from(p)
    }

    fn error(&self, source: std::io::Error) -> JournalError {
        JournalError {
            path: self.path.clone(),
            source,
        }
    }

    fn open_append(&self) -> Result<std::fs::File, JournalError> {
        std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&self.path)
            .map_err(|e| self.error(e))
    }

    /// Appends `events`, one line and one `write` each, rotating first when the file would pass
    /// its size limit.
    ///
    /// # Errors
    /// [`JournalError`] when the folder or file cannot be created or written.
    pub fn append(&self, events: &[LifecycleEvent]) -> Result<(), JournalError> {
        if events.is_empty() {
            return Ok(());
        }
        let pid = std::process::id();
        let mut lines = Vec::with_capacity(events.len());
        for event in events {
            let mut line = serde_json::to_vec(&LineOut { event, pid })
                .map_err(|e| self.error(std::io::Error::other(e)))?;
            line.push(b'\n');
            lines.push(line);
        }
        if let Some(dir) = self.path.parent() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| self.error(e))?;
        }
        let mut file = self.open_append()?;
        let len = file.metadata().map_err(|e| self.error(e))?;
        let total: u64 = lines.iter().map(|l| l.len() as u64).sum();
        if len.len() > 0 && len.len() + total > self.max_bytes {
            // rotate only when the path still names the file we opened: another process may
            // have rotated it in the meantime, and its fresh file must not replace `.1`
            if std::fs::metadata(&self.path)
                .is_ok_and(|now| now.ino() == len.ino() && now.dev() == len.dev())
            {
                std::fs::rename(&self.path, self.rotated_path()).map_err(|e| self.error(e))?;
            }
            file = self.open_append()?;
        }
        for line in &lines {
            file.write_all(line).map_err(|e| self.error(e))?;
        }
        Ok(())
    }

    /// Events at or after `since` (Unix seconds) from `<file>.1` and the file, in time order;
    /// lines that do not parse are skipped.
    #[must_use]
    pub fn read_since(&self, since: i64) -> Vec<LifecycleEvent> {
        self.history_and_cursor(since).0
    }

    /// [`Journal::read_since`], and a cursor at the end of what was read, for following.
    #[must_use]
    pub fn history_and_cursor(&self, since: i64) -> (Vec<LifecycleEvent>, Cursor) {
        let (old, _) = read_lines(&self.rotated_path(), 0);
        let ino = std::fs::metadata(&self.path).ok().map(|m| m.ino());
        let (new, offset) = read_lines(&self.path, 0);
        let mut events: Vec<LifecycleEvent> = old
            .into_iter()
            .chain(new)
            .map(|(e, _)| e)
            .filter(|e| e.time >= since)
            .collect();
        events.sort_by_key(LifecycleEvent::sort_key);
        let cursor = Cursor {
            path: self.path.clone(),
            rotated: self.rotated_path(),
            offset,
            ino,
            skip_pid: None,
        };
        (events, cursor)
    }

    /// The events in the last `max_bytes` of the journal (reaching into `<file>.1` when the file
    /// is shorter), in file order.
    #[must_use]
    pub fn tail(&self, max_bytes: u64) -> Vec<LifecycleEvent> {
        let len = std::fs::metadata(&self.path).map_or(0, |m| m.len());
        let mut out = Vec::new();
        if len < max_bytes {
            let rest = max_bytes - len;
            let old_len = std::fs::metadata(self.rotated_path()).map_or(0, |m| m.len());
            let (old, _) = read_lines(&self.rotated_path(), old_len.saturating_sub(rest));
            out.extend(old.into_iter().map(|(e, _)| e));
        }
        let (new, _) = read_lines(&self.path, len.saturating_sub(max_bytes));
        out.extend(new.into_iter().map(|(e, _)| e));
        out
    }
}

/// Follows a journal from a position on: [`Cursor::poll`] returns the lines appended since the
/// last call (across a rotation).
#[derive(Debug, Clone)]
pub struct Cursor {
    path: PathBuf,
    rotated: PathBuf,
    offset: u64,
    ino: Option<u64>,
    skip_pid: Option<u32>,
}

impl Cursor {
    /// Leave out the lines written by process `pid` (the follower's own).
    #[must_use]
    pub fn skipping_pid(mut self, pid: u32) -> Self {
        self.skip_pid = Some(pid);
        self
    }

    /// The complete lines appended since the last poll (a line still being written waits for
    /// the next poll).
    pub fn poll(&mut self) -> Vec<LifecycleEvent> {
        let mut out = Vec::new();
        let meta = std::fs::metadata(&self.path).ok();
        let ino = meta.as_ref().map(MetadataExt::ino);
        if ino != self.ino {
            // rotated (or created): finish the old file, which is now `.1`, then start over
            if self.ino.is_some()
                && std::fs::metadata(&self.rotated).ok().map(|m| m.ino()) == self.ino
            {
                out.extend(read_lines(&self.rotated, self.offset).0);
            }
            self.ino = ino;
            self.offset = 0;
        }
        if meta.as_ref().is_some_and(|m| m.len() < self.offset) {
            // truncated by hand
            self.offset = 0;
        }
        if meta.is_some() {
            let (new, end) = read_lines(&self.path, self.offset);
            out.extend(new);
            self.offset = end;
        }
        out.into_iter()
            .filter(|(_, pid)| self.skip_pid.is_none() || *pid != self.skip_pid)
            .map(|(e, _)| e)
            .collect()
    }
}

/// The parsed lines of `path` from byte `from` on (when `from` is inside a line, that line is
/// skipped), and the offset just past the last complete line.
fn read_lines(path: &Path, from: u64) -> (Vec<(LifecycleEvent, Option<u32>)>, u64) {
    let Ok(mut file) = std::fs::File::open(path) else {
        return (Vec::new(), from);
    };
    // start one byte early to see whether `from` is the start of a line
    let start = from.saturating_sub(1);
    if file.seek(SeekFrom::Start(start)).is_err() {
        return (Vec::new(), from);
    }
    let mut bytes = Vec::new();
    if file.read_to_end(&mut bytes).is_err() {
        return (Vec::new(), from);
    }
    let mut body: &[u8] = &bytes;
    let mut base = start;
    if from > 0 {
        // drop the byte before `from` and, when it was not a line end, the rest of that line
        let skip = if bytes.first() == Some(&b'\n') {
            1
        } else {
            bytes
                .iter()
                .position(|b| *b == b'\n')
                .map_or(bytes.len(), |i| i + 1)
        };
        body = bytes.get(skip..).unwrap_or_default();
        base = start + skip as u64;
    }
    let complete = body.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let events = body
        .get(..complete)
        .unwrap_or_default()
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .filter_map(|l| serde_json::from_slice::<LineIn>(l).ok())
        .map(|l| (l.event, l.pid))
        .collect();
    (events, base + complete as u64)
}

/// Appends `events` to `journal` (when there is one); a failure is only a debug trace (the
/// journal is a record, never a reason to fail a deploy).
pub fn record(journal: Option<&Journal>, events: &[LifecycleEvent]) {
    let Some(journal) = journal else { return };
    if let Err(e) = journal.append(events) {
        tracing::debug!("journal: {e}");
    }
}

/// What the journal says about one container's health.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HealthHistory {
    /// The last recorded result (`None`: never recorded).
    pub last: Option<bool>,
    /// Failed checks in a row at the end.
    pub failures_in_row: u32,
}

/// Health history per container name, from events in time order.
#[must_use]
pub fn health_history(events: &[LifecycleEvent]) -> BTreeMap<String, HealthHistory> {
    let mut out: BTreeMap<String, HealthHistory> = BTreeMap::new();
    for e in events {
        let h = out.entry(e.container.clone()).or_default();
        match e.kind {
            EventKind::HealthPassed => {
                h.last = Some(true);
                h.failures_in_row = 0;
            }
            EventKind::HealthFailed => {
                h.last = Some(false);
                h.failures_in_row = h.failures_in_row.saturating_add(1);
            }
            _ => {}
        }
    }
    out.retain(|_, h| h.last.is_some());
    out
}

/// Shortens a failure message for the journal: its first line, at most [`DETAIL_CHARS`]
/// characters.
#[must_use]
pub fn detail(text: &str) -> String {
    let first = text.lines().next().unwrap_or_default().trim();
    let mut out: String = first.chars().take(DETAIL_CHARS).collect();
    if first.chars().count() > DETAIL_CHARS {
        out.push('…');
    }
    out
}

#[derive(Debug)]
struct BuildState {
    tag: String,
    began: Instant,
    done: bool,
}

/// Turns the [`BuildEvent`]s of one build run into journal entries: `build-started` when a
/// build really begins, `build-finished` (built or `cached`) with the tag and the time taken,
/// and `build-failed` for every service left unfinished when the run fails ([`BuildRecorder::failed`]).
#[derive(Debug)]
pub struct BuildRecorder<'a> {
    journal: Option<&'a Journal>,
    ecosystem: String,
    tenant: Option<String>,
    services: Vec<String>,
    state: Mutex<BTreeMap<String, BuildState>>,
}

impl<'a> BuildRecorder<'a> {
    /// A recorder for building `services` of `ecosystem` (the tenant's name for a copy).
    #[must_use]
    pub fn new(
        journal: Option<&'a Journal>,
        ecosystem: &str,
        tenant: Option<&str>,
        services: Vec<String>,
    ) -> Self {
        Self {
            journal,
            ecosystem: ecosystem.to_string(),
            tenant: tenant.map(str::to_string),
            services,
            state: Mutex::new(BTreeMap::new()),
        }
    }

    fn event_for(&self, kind: EventKind, service: &str) -> LifecycleEvent {
        LifecycleEvent::now(kind, &self.ecosystem, service, "").with_tenant(self.tenant.as_deref())
    }

    /// Records what `e` means for the journal.
    pub fn event(&self, e: &BuildEvent) {
        if self.journal.is_none() {
            return;
        }
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let entry = match e {
            BuildEvent::Started { service, tag } => {
                state.insert(
                    service.clone(),
                    BuildState {
                        tag: tag.clone(),
                        began: Instant::now(),
                        done: false,
                    },
                );
                None
            }
            BuildEvent::Building { service } => {
                let mut ev = self.event_for(EventKind::BuildStarted, service);
                ev.image = state.get(service).map(|s| s.tag.clone());
                Some(ev)
            }
            BuildEvent::Finished { service, cached } => {
                let mut ev = self.event_for(EventKind::BuildFinished, service);
                if let Some(s) = state.get_mut(service) {
                    s.done = true;
                    ev.image = Some(s.tag.clone());
                    ev.duration_ms = Some(millis(s.began));
                }
                ev.cached = Some(*cached);
                Some(ev)
            }
            BuildEvent::Line { .. } => None,
        };
        drop(state);
        if let Some(ev) = entry {
            record(self.journal, &[ev]);
        }
    }

    /// Records `build-failed` for every service of the run that did not finish: the failing
    /// service (or all, when the error names none) with the error, the others as cancelled.
    pub fn failed(&self, err: &BuildError) {
        if self.journal.is_none() {
            return;
        }
        let failing = match err {
            BuildError::Failed { service, .. } | BuildError::Plan { service, .. } => {
                Some(service.as_str())
            }
            _ => None,
        };
        let Ok(state) = self.state.lock() else {
            return;
        };
        let mut events = Vec::new();
        for service in &self.services {
            let s = state.get(service);
            if s.is_some_and(|s| s.done) {
                continue;
            }
            let mut ev = self.event_for(EventKind::BuildFailed, service);
            ev.image = s.map(|s| s.tag.clone());
            ev.duration_ms = s.map(|s| millis(s.began));
            ev.detail = Some(match failing {
                Some(f) if f != service => format!("cancelled: the build of `{f}` failed"),
                _ => detail(&err.to_string()),
            });
            events.push(ev);
        }
        drop(state);
        record(self.journal, &events);
    }
}

fn millis(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: EventKind, container: &str, ms: i64) -> LifecycleEvent {
        let mut e = LifecycleEvent::now(kind, "shop", "api", container);
        e.time = ms / 1000;
        e.time_ms = Some(ms);
        e
    }

    #[test]
    fn state_dir_prefers_the_variable_then_xdg_then_home() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| OsString::from(v))
            }
        };
        assert_eq!(
            state_dir_from(env(&[
                ("PACTOWN_STATE_DIR", "/s"),
                ("XDG_STATE_HOME", "/x"),
                ("HOME", "/h")
            ])),
            Some(PathBuf::from("/s"))
        );
        assert_eq!(
            state_dir_from(env(&[("XDG_STATE_HOME", "/x"), ("HOME", "/h")])),
            Some(PathBuf::from("/x/pactown"))
        );
        assert_eq!(
            state_dir_from(env(&[("XDG_STATE_HOME", "rel"), ("HOME", "/h")])),
            Some(PathBuf::from("/h/.local/state/pactown"))
        );
        assert_eq!(state_dir_from(env(&[("PACTOWN_STATE_DIR", "")])), None);
        assert_eq!(file_name("shop--acme"), "shop--acme.jsonl");
        assert_eq!(file_name("../x y"), "_.._x_y.jsonl");
    }

    #[test]
    fn appends_reads_in_order_and_skips_corrupted_lines() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::at(dir.path().join("a/b/shop.jsonl"));
        j.append(&[ev(EventKind::HealthFailed, "shop-api-1", 2_000)])
            .unwrap();
        // a torn line and garbage are skipped
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(j.path())
            .unwrap();
        f.write_all(b"{\"time\": 5, \"kind\": \"no-such\"}\nnot json\n")
            .unwrap();
        j.append(&[
            ev(EventKind::HealthPassed, "shop-api-1", 1_500),
            ev(EventKind::BuildFinished, "", 3_000),
        ])
        .unwrap();
        let all = j.read_since(0);
        let kinds: Vec<EventKind> = all.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            [
                EventKind::HealthPassed,
                EventKind::HealthFailed,
                EventKind::BuildFinished
            ]
        );
        assert_eq!(j.read_since(2).len(), 2);
        assert_eq!(j.tail(u64::MAX).len(), 3);
        // file order in the tail; a cut inside a line drops that line
        let len = std::fs::metadata(j.path()).unwrap().len();
        let tail = j.tail(len - 5);
        assert_eq!(tail.len(), 2, "{tail:?}");
        let text = std::fs::read_to_string(j.path()).unwrap();
        assert!(text.lines().next().unwrap().contains("\"pid\""), "{text}");
    }

    #[test]
    fn rotates_at_the_size_limit_and_reads_both_files() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::at(dir.path().join("shop.jsonl")).with_max_bytes(600);
        for i in 0..12 {
            j.append(&[ev(EventKind::HealthFailed, "shop-api-1", i * 1000)])
                .unwrap();
        }
        let len = std::fs::metadata(j.path()).unwrap().len();
        assert!(len <= 600, "{len}");
        assert!(j.rotated_path().exists());
        let all = j.read_since(0);
        // only the current file and one rotated file are kept
        assert!(all.len() >= 4 && all.len() < 12, "{}", all.len());
        assert_eq!(all.last().unwrap().time_ms, Some(11_000));
        let times: Vec<i64> = all.iter().map(LifecycleEvent::sort_key).collect();
        let mut sorted = times.clone();
        sorted.sort_unstable();
        assert_eq!(times, sorted);
        // the tail reaches into `.1`
        assert!(j.tail(1000).len() > j.tail(len).len());
    }

    #[test]
    fn cursor_follows_appends_across_rotation_and_skips_its_own_pid() {
        let dir = tempfile::tempdir().unwrap();
        let size = Journal::at(dir.path().join("size.jsonl"));
        size.append(&[ev(EventKind::HealthFailed, "c", 1_000)])
            .unwrap();
        let line = std::fs::metadata(size.path()).unwrap().len();
        // one rotation among the next six lines
        let j = Journal::at(dir.path().join("shop.jsonl")).with_max_bytes(line * 5);
        j.append(&[ev(EventKind::HealthFailed, "c", 1_000)])
            .unwrap();
        let (history, mut cursor) = j.history_and_cursor(0);
        assert_eq!(history.len(), 1);
        assert!(cursor.poll().is_empty());
        for i in 2..8 {
            j.append(&[ev(EventKind::HealthFailed, "c", i * 1000)])
                .unwrap();
        }
        assert!(j.rotated_path().exists(), "rotated");
        let seen = cursor.poll();
        assert_eq!(seen.len(), 6, "{seen:?}");
        assert_eq!(seen.last().unwrap().time_ms, Some(7_000));
        // a half-written line waits for the next poll
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(j.path())
            .unwrap();
        let line = serde_json::to_string(&ev(EventKind::HealthPassed, "c", 9_000)).unwrap();
        let (a, b) = line.split_at(10);
        f.write_all(a.as_bytes()).unwrap();
        assert!(cursor.poll().is_empty());
        f.write_all(format!("{b}\n").as_bytes()).unwrap();
        assert_eq!(cursor.poll().len(), 1);
        let mut own = j.history_and_cursor(0).1.skipping_pid(std::process::id());
        j.append(&[ev(EventKind::HealthPassed, "c", 10_000)])
            .unwrap();
        assert!(own.poll().is_empty(), "own lines are skipped");
    }

    #[test]
    fn health_history_counts_failures_in_a_row() {
        let events = [
            ev(EventKind::HealthFailed, "a", 1),
            ev(EventKind::HealthPassed, "a", 2),
            ev(EventKind::HealthFailed, "a", 3),
            ev(EventKind::BuildFinished, "", 4),
            ev(EventKind::HealthFailed, "a", 5),
            ev(EventKind::HealthPassed, "b", 6),
        ];
        let h = health_history(&events);
        assert_eq!(
            h["a"],
            HealthHistory {
                last: Some(false),
                failures_in_row: 2
            }
        );
        assert_eq!(h["b"].last, Some(true));
        assert!(!h.contains_key(""));
    }

    #[test]
    fn build_recorder_writes_started_finished_and_failed() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::at(dir.path().join("shop.jsonl"));
        let rec = BuildRecorder::new(
            Some(&j),
            "shop",
            Some("acme"),
            vec!["api".into(), "web".into(), "db".into()],
        );
        for e in [
            BuildEvent::Started {
                service: "db".into(),
                tag: "pactown/python-db:1".into(),
            },
            BuildEvent::Finished {
                service: "db".into(),
                cached: true,
            },
            BuildEvent::Started {
                service: "api".into(),
                tag: "pactown/python-api:2".into(),
            },
            BuildEvent::Building {
                service: "api".into(),
            },
        ] {
            rec.event(&e);
        }
        rec.failed(&BuildError::Failed {
            service: "api".into(),
            step: None,
            message: "pip failed\nmore".into(),
            log_tail: Vec::new(),
            hint: None,
        });
        let all = j.read_since(0);
        let got: Vec<(&str, EventKind, Option<bool>, Option<&str>)> = all
            .iter()
            .map(|e| (e.service.as_str(), e.kind, e.cached, e.detail.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                ("db", EventKind::BuildFinished, Some(true), None),
                ("api", EventKind::BuildStarted, None, None),
                (
                    "api",
                    EventKind::BuildFailed,
                    None,
                    Some("build of service `api` failed: pip failed")
                ),
                (
                    "web",
                    EventKind::BuildFailed,
                    None,
                    Some("cancelled: the build of `api` failed")
                ),
            ]
        );
        assert!(all.iter().all(|e| e.tenant.as_deref() == Some("acme")));
        assert_eq!(all[1].image.as_deref(), Some("pactown/python-api:2"));
        assert!(all[0]
            .line()
            .contains("db build-finished pactown/python-db:1 (cached)"));
    }
}
