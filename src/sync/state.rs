//! What the engine keeps per device and collection inside [`CollectionState::engine`] and
//! [`FolderSyncState::engine`]: the items the device holds, the answer to repeat for the
//! previous key ([MS-ASCMD] 2.2.1.21 "the client resends the same SyncKey"; EAS-NOTES §1.5),
//! loop counters and quarantined items (EAS-NOTES §3 row 2).
//!
//! The bytes are the engine's own compact format (a version byte, then LEB128 varints and
//! length-prefixed strings). A state that does not read back is treated by the engine as an
//! unknown key: the device starts that collection again, which is always safe.
//!
//! [`CollectionState::engine`]: super::CollectionState::engine
//! [`FolderSyncState::engine`]: super::FolderSyncState::engine

use super::ItemId;
use crate::wbxml::Tag;

/// Format version of the engine bytes; a state of another version is not read.
pub const STATE_VERSION: u8 = 1;

/// Most items quarantined per device and collection; past this, the oldest entry goes.
pub const MAX_QUARANTINE: u32 = 256;

/// Longest quarantine reason kept, in bytes.
pub const MAX_REASON_LEN: u32 = 200;

/// Most ranges a stored [`IdSet`] may hold when read back (a device holding every other item
/// of a 1,000,000-item folder).
pub const MAX_RANGES: u32 = 1_000_000;

/// A set of item ids as sorted, disjoint, non-adjacent inclusive ranges: a folder synced in
/// id order is one range, so the set costs bytes, not a word per item.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IdSet {
    ranges: Vec<(u64, u64)>,
}

impl IdSet {
    fn find(&self, id: u64) -> usize {
        self.ranges.partition_point(|r| r.1 < id)
    }

    pub fn contains(&self, id: ItemId) -> bool {
        let i = self.find(id.0);
        self.ranges.get(i).is_some_and(|r| r.0 <= id.0)
    }

    pub fn insert(&mut self, id: ItemId) {
        let id = id.0;
        let i = self.find(id);
        if self.ranges.get(i).is_some_and(|r| r.0 <= id) {
            return;
        }
        let joins_left = i > 0
            && self
                .ranges
                .get(i - 1)
                .is_some_and(|r| r.1.checked_add(1) == Some(id));
        let joins_right = self
            .ranges
            .get(i)
            .is_some_and(|r| id.checked_add(1) == Some(r.0));
        match (joins_left, joins_right) {
            (true, true) => {
                let right = self.ranges.remove(i);
                if let Some(l) = self.ranges.get_mut(i - 1) {
                    l.1 = right.1;
                }
            }
            (true, false) => {
                if let Some(l) = self.ranges.get_mut(i - 1) {
                    l.1 = id;
                }
            }
            (false, true) => {
                if let Some(r) = self.ranges.get_mut(i) {
                    r.0 = id;
                }
            }
            (false, false) => self.ranges.insert(i, (id, id)),
        }
    }

    pub fn remove(&mut self, id: ItemId) {
        let id = id.0;
        let i = self.find(id);
        let Some(&(lo, hi)) = self.ranges.get(i) else {
            return;
        };
        if lo > id {
            return;
        }
        match (lo == id, hi == id) {
            (true, true) => {
                self.ranges.remove(i);
            }
            (true, false) => self.ranges[i].0 = id + 1,
            (false, true) => self.ranges[i].1 = id - 1,
            (false, false) => {
                self.ranges[i].1 = id - 1;
                self.ranges.insert(i + 1, (id + 1, hi));
            }
        }
    }

    /// Number of ids in the set.
    pub fn len(&self) -> u64 {
        self.ranges.iter().map(|r| r.1 - r.0 + 1).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    fn write(&self, w: &mut Writer) {
        w.len(self.ranges.len());
        for &(lo, hi) in &self.ranges {
            w.u64(lo);
            w.u64(hi - lo);
        }
    }

    fn read(r: &mut Reader<'_>) -> Option<IdSet> {
        let n = r.count(MAX_RANGES)?;
        let mut ranges: Vec<(u64, u64)> = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            let lo = r.u64()?;
            let hi = lo.checked_add(r.u64()?)?;
            // Keep the invariant the lookups rely on: sorted, disjoint, non-adjacent.
            if ranges
                .last()
                .is_some_and(|p| p.1.checked_add(1).is_none_or(|n| n >= lo))
            {
                return None;
            }
            ranges.push((lo, hi));
        }
        Some(IdSet { ranges })
    }
}

/// The answer given for the last key, and what is needed to rebuild it with a smaller window.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Last {
    /// The key the device sent; the answer carries `request_key + 1`.
    pub request_key: u32,
    /// The cursor and the device's items after the client's commands were applied and before
    /// server changes were added: where a rebuilt answer starts.
    pub cursor_before: u64,
    pub known_before: IdSet,
    /// Items whose Add, Change or Delete the answer carries.
    pub sent: Vec<ItemId>,
    /// How many times the device has sent `request_key` again since.
    pub replays: u32,
    /// The collection's answer, as a one-collection Sync response in WBXML.
    pub response: Vec<u8>,
}

/// The engine's state for one device and collection.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EngineState {
    /// The `Supported` list of the initial sync (ghosting, EAS-NOTES §1.5).
    pub supported: Option<Vec<Tag>>,
    /// Items the device holds: a server Upsert of one of these is a Change, of others an Add;
    /// a Delete is sent only for these.
    pub known: IdSet,
    /// A window smaller than the device asks for, after a loop (EAS-NOTES §3 row 2).
    pub window_cap: Option<u32>,
    /// Items never sent to this device again, with the reason.
    pub quarantine: Vec<(ItemId, String)>,
    pub last: Option<Last>,
}

impl EngineState {
    pub fn is_quarantined(&self, id: ItemId) -> bool {
        self.quarantine.iter().any(|q| q.0 == id)
    }

    /// Quarantines an item, dropping the oldest entry beyond [`MAX_QUARANTINE`].
    pub fn quarantine(&mut self, id: ItemId, reason: &str) {
        if self.is_quarantined(id) {
            return;
        }
        if self.quarantine.len() >= MAX_QUARANTINE as usize {
            self.quarantine.remove(0);
        }
        let mut reason = reason.to_owned();
        truncate(&mut reason, MAX_REASON_LEN as usize);
        self.quarantine.push((id, reason));
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer(vec![STATE_VERSION]);
        match &self.supported {
            None => w.u8(0),
            Some(tags) => {
                w.u8(1);
                w.len(tags.len());
                for t in tags {
                    w.u8(t.page);
                    w.u8(t.token);
                }
            }
        }
        self.known.write(&mut w);
        w.u64(u64::from(self.window_cap.unwrap_or(0)));
        w.len(self.quarantine.len());
        for (id, reason) in &self.quarantine {
            w.u64(id.0);
            w.bytes(reason.as_bytes());
        }
        match &self.last {
            None => w.u8(0),
            Some(l) => {
                w.u8(1);
                w.u64(u64::from(l.request_key));
                w.u64(l.cursor_before);
                l.known_before.write(&mut w);
                w.len(l.sent.len());
                for id in &l.sent {
                    w.u64(id.0);
                }
                w.u64(u64::from(l.replays));
                w.bytes(&l.response);
            }
        }
        w.0
    }

    /// Reads a state back; `None` when the bytes are not a state of this version. Empty bytes
    /// are the default state (a collection primed by another component).
    pub fn from_bytes(b: &[u8]) -> Option<EngineState> {
        if b.is_empty() {
            return Some(EngineState::default());
        }
        let mut r = Reader(b);
        if r.u8()? != STATE_VERSION {
            return None;
        }
        let supported = match r.u8()? {
            0 => None,
            1 => {
                let n = r.count(crate::eas::commands::sync::caps::MAX_SUPPORTED)?;
                let mut tags = Vec::with_capacity(n);
                for _ in 0..n {
                    tags.push(Tag::new(r.u8()?, r.u8()?));
                }
                Some(tags)
            }
            _ => return None,
        };
        let known = IdSet::read(&mut r)?;
        let window_cap = match u32::try_from(r.u64()?).ok()? {
            0 => None,
            n => Some(n),
        };
        let nq = r.count(MAX_QUARANTINE)?;
        let mut quarantine = Vec::with_capacity(nq);
        for _ in 0..nq {
            let id = ItemId(r.u64()?);
            let reason = String::from_utf8(r.bytes()?.to_vec()).ok()?;
            quarantine.push((id, reason));
        }
        let last = match r.u8()? {
            0 => None,
            1 => {
                let request_key = u32::try_from(r.u64()?).ok()?;
                let cursor_before = r.u64()?;
                let known_before = IdSet::read(&mut r)?;
                let ns = r.count(crate::eas::commands::sync::caps::MAX_COMMANDS)?;
                let mut sent = Vec::with_capacity(ns);
                for _ in 0..ns {
                    sent.push(ItemId(r.u64()?));
                }
                let replays = u32::try_from(r.u64()?).ok()?;
                let response = r.bytes()?.to_vec();
                Some(Last {
                    request_key,
                    cursor_before,
                    known_before,
                    sent,
                    replays,
                    response,
                })
            }
            _ => return None,
        };
        if !r.0.is_empty() {
            return None;
        }
        Some(EngineState {
            supported,
            known,
            window_cap,
            quarantine,
            last,
        })
    }
}

/// The engine's FolderSync state: the hierarchy as the device holds it and the answer to the
/// previous key, both as FolderSync responses in WBXML (a hierarchy is a few hundred bytes).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FolderEngineState {
    /// A FolderSync response whose Adds are the hierarchy the device holds.
    pub snapshot: Vec<u8>,
    /// The key the device last sent with changes, and the answer.
    pub last: Option<(u32, Vec<u8>)>,
}

impl FolderEngineState {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer(vec![STATE_VERSION]);
        w.bytes(&self.snapshot);
        match &self.last {
            None => w.u8(0),
            Some((k, b)) => {
                w.u8(1);
                w.u64(u64::from(*k));
                w.bytes(b);
            }
        }
        w.0
    }

    pub fn from_bytes(b: &[u8]) -> Option<FolderEngineState> {
        let mut r = Reader(b);
        if r.u8()? != STATE_VERSION {
            return None;
        }
        let snapshot = r.bytes()?.to_vec();
        let last = match r.u8()? {
            0 => None,
            1 => Some((u32::try_from(r.u64()?).ok()?, r.bytes()?.to_vec())),
            _ => return None,
        };
        r.0.is_empty()
            .then_some(FolderEngineState { snapshot, last })
    }
}

fn truncate(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }

    fn u64(&mut self, mut v: u64) {
        loop {
            let b = (v & 0x7F) as u8;
            v >>= 7;
            if v == 0 {
                self.0.push(b);
                return;
            }
            self.0.push(b | 0x80);
        }
    }

    fn len(&mut self, n: usize) {
        self.u64(n as u64);
    }

    fn bytes(&mut self, b: &[u8]) {
        self.len(b.len());
        self.0.extend_from_slice(b);
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn u64(&mut self) -> Option<u64> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            v |= u64::from(b & 0x7F).checked_shl(shift)?;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    /// A count of at most `cap`.
    fn count(&mut self, cap: u32) -> Option<usize> {
        let n = self.u64()?;
        if n > u64::from(cap) {
            return None;
        }
        usize::try_from(n).ok()
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = usize::try_from(self.u64()?).ok()?;
        if n > self.0.len() {
            return None;
        }
        let (b, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(s: &IdSet) -> Vec<u64> {
        s.ranges.iter().flat_map(|r| r.0..=r.1).collect()
    }

    #[test]
    fn id_set_merges_and_splits() {
        let mut s = IdSet::default();
        for i in [5, 3, 4, 10, 1, 9, u64::MAX, 0] {
            s.insert(ItemId(i));
        }
        assert_eq!(
            s.ranges,
            vec![(0, 1), (3, 5), (9, 10), (u64::MAX, u64::MAX)]
        );
        s.insert(ItemId(2));
        assert_eq!(s.ranges, vec![(0, 5), (9, 10), (u64::MAX, u64::MAX)]);
        s.remove(ItemId(3));
        s.remove(ItemId(0));
        s.remove(ItemId(10));
        s.remove(ItemId(u64::MAX));
        s.remove(ItemId(77));
        assert_eq!(ids(&s), vec![1, 2, 4, 5, 9]);
        assert!(s.contains(ItemId(4)) && !s.contains(ItemId(3)));
        assert_eq!(s.len(), 5);
    }

    #[test]
    fn state_round_trips_and_rejects_garbage() {
        let mut known = IdSet::default();
        known.insert(ItemId(7));
        known.insert(ItemId(300));
        let mut st = EngineState {
            supported: Some(vec![Tag::new(1, 0x05)]),
            known: known.clone(),
            window_cap: Some(50),
            quarantine: vec![],
            last: Some(Last {
                request_key: 4,
                cursor_before: 99,
                known_before: known,
                sent: vec![ItemId(7)],
                replays: 2,
                response: vec![3, 1, 0x6A, 0],
            }),
        };
        st.quarantine(ItemId(9), &"é".repeat(300));
        assert!(st.quarantine[0].1.len() <= MAX_REASON_LEN as usize);
        let b = st.to_bytes();
        assert_eq!(EngineState::from_bytes(&b), Some(st));
        for cut in 1..b.len() {
            assert_eq!(EngineState::from_bytes(&b[..cut]), None, "cut {cut}");
        }
        assert_eq!(EngineState::from_bytes(&[9]), None);
        // Overlapping ranges are refused.
        assert_eq!(EngineState::from_bytes(&[1, 0, 2, 5, 0, 5, 0]), None);
        let f = FolderEngineState {
            snapshot: vec![1, 2],
            last: Some((3, vec![4])),
        };
        assert_eq!(FolderEngineState::from_bytes(&f.to_bytes()), Some(f));
    }

    #[test]
    fn quarantine_is_capped() {
        let mut st = EngineState::default();
        for i in 0..u64::from(MAX_QUARANTINE) + 5 {
            st.quarantine(ItemId(i), "x");
        }
        assert_eq!(st.quarantine.len(), MAX_QUARANTINE as usize);
        assert_eq!(st.quarantine[0].0, ItemId(5));
    }
}
