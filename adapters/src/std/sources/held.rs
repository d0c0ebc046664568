//! The files a list of path sources holds open between uses, keyed by what names them: the
//! source handed out last (for the driver that asks for it again while copying it), and a
//! few opened when used, least recently used closed first. One bookkeeping for
//! [`PathSources`](super::PathSources) and [`DirSources`](super::DirSources).

use ::std::vec::Vec;

use super::path::PathSource;

/// What a list of path sources holds, by key `K`.
#[derive(Debug)]
pub(super) struct Held<K> {
    /// The source handed out last.
    current: Option<(K, PathSource)>,
    /// Files opened when used, most recently used last.
    opened: Vec<(K, PathSource)>,
}

impl<K> Default for Held<K> {
    fn default() -> Self {
        Held {
            current: None,
            opened: Vec::new(),
        }
    }
}

impl<K: PartialEq> Held<K> {
    /// The source handed out last, if `is` says it is the one asked for.
    pub(super) fn again(&self, is: impl Fn(&K) -> bool) -> Option<PathSource> {
        let (_, source) = self.current.as_ref().filter(|(key, _)| is(key))?;
        Some(source.clone())
    }

    /// Lets go of the source handed out last, so that a read-ahead batch's buffer can be
    /// reused.
    pub(super) fn release(&mut self) {
        self.current = None;
    }

    /// A file opened when used that `is` says is the one asked for, now the most recently
    /// used.
    pub(super) fn find(&mut self, is: impl Fn(&K) -> bool) -> Option<PathSource> {
        let found = self.opened.iter().position(|(key, _)| is(key))?;
        let entry = self.opened.remove(found);
        let source = entry.1.clone();
        self.opened.push(entry);
        Some(source)
    }

    /// Keeps `source`, just opened for `key`, among at most `capacity` files opened when
    /// used; the least recently used is closed first, so the count never exceeds it.
    pub(super) fn keep(&mut self, key: K, source: &PathSource, capacity: usize) {
        if self.opened.len() >= capacity {
            self.opened.remove(0);
        }
        self.opened.push((key, source.clone()));
    }

    /// Records `source` as the one handed out last, for `key`.
    pub(super) fn hand_out(&mut self, key: K, source: &PathSource) {
        self.current = Some((key, source.clone()));
    }

    /// Files held open: those opened when used, and the one handed out last.
    pub(super) fn open_files(&self) -> usize {
        let current = self.current.as_ref().filter(|(key, source)| {
            source.is_open() && !self.opened.iter().any(|(cached, _)| cached == key)
        });
        let cached = self.opened.iter().filter(|(_, source)| source.is_open());
        cached.count() + usize::from(current.is_some())
    }
}
