//! Progress of long library calls, reported through a small trait: libraries print nothing, and a
//! program adapts this to its own display (the CLI to indicatif progress bars).

/// Receives the progress of a long call (training a zoo, running a method over one, a bench).
/// Every method has an empty default, so an implementer picks what it shows; `()` shows nothing.
pub trait Progress: Sync {
    /// The call has `total` units of work (models, usually).
    fn set_length(&self, total: u64) {
        let _ = total;
    }
    /// `done` units were already finished (by an earlier, interrupted run).
    fn set_position(&self, done: u64) {
        let _ = done;
    }
    /// `units` more are done.
    fn inc(&self, units: u64) {
        let _ = units;
    }
    /// What is running now (e.g. "models 0..31 epoch 3/20").
    fn message(&self, text: String) {
        let _ = text;
    }
    /// Something the user should know that does not stop the call (a repaired file, a lock taken
    /// over from a dead process).
    fn warn(&self, text: String) {
        let _ = text;
    }
    /// A finished step worth a line of its own (e.g. "originals: 100 models (12.3 s)").
    fn note(&self, text: String) {
        let _ = text;
    }
    /// A new phase of a multi-step call starts (e.g. "training originals"), of `total` units.
    fn phase(&self, name: &str, total: u64) {
        let _ = name;
        self.set_length(total);
        self.set_position(0);
    }
}

/// Reports nothing.
impl Progress for () {}
