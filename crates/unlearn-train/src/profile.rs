//! Where a training step's time goes: batch gathering, forward pass with the loss, backward pass,
//! optimiser update (measured by `unlearn bench-speed`; the CPU backends run eagerly, and the
//! loss is read back every step, so the phases' wall-clock times add up to the step's).

use burn::tensor::Device;
use std::time::{Duration, Instant};

/// Summed phase times over the steps of a run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StepTimes {
    /// Selecting the batch rows (index upload, gather, reshape).
    pub data: Duration,
    /// Forward pass and per-model loss, including reading the losses back.
    pub forward: Duration,
    /// Backward pass (gradients of every parameter).
    pub backward: Duration,
    /// Optimiser update of every parameter.
    pub update: Duration,
    /// Steps timed.
    pub steps: usize,
    /// Samples processed (summed over the models of the stack).
    pub samples: usize,
    /// Steps at the start left out of the sums (a warm-up: the first steps of a fresh model
    /// also fill the allocator's and the caches' state).
    pub warm_up: usize,
    /// Steps seen, the warm-up included.
    pub seen: usize,
}

impl StepTimes {
    /// Sums that leave out the first `steps` steps.
    pub fn after_warm_up(steps: usize) -> Self {
        Self {
            warm_up: steps,
            ..Self::default()
        }
    }

    /// Adds one step (unless it is still part of the warm-up).
    pub fn add(
        &mut self,
        data: Duration,
        forward: Duration,
        backward: Duration,
        update: Duration,
        samples: usize,
    ) {
        self.seen += 1;
        if self.seen <= self.warm_up {
            return;
        }
        self.data += data;
        self.forward += forward;
        self.backward += backward;
        self.update += update;
        self.steps += 1;
        self.samples += samples;
    }

    /// All phases together.
    pub fn total(&self) -> Duration {
        self.data + self.forward + self.backward + self.update
    }

    /// The shares as one line: "data 5 % · forward 35 % · backward 42 % · update 18 %".
    pub fn shares_text(&self) -> String {
        let [d, f, b, u] = self.shares().map(|s| 100.0 * s);
        format!("data {d:.0} % · forward {f:.0} % · backward {b:.0} % · update {u:.0} %")
    }

    /// Each phase's share of the total, in the order data, forward, backward, update.
    pub fn shares(&self) -> [f64; 4] {
        let total = self.total().as_secs_f64().max(f64::MIN_POSITIVE);
        [self.data, self.forward, self.backward, self.update].map(|d| d.as_secs_f64() / total)
    }
}

/// A stopwatch that costs nothing when timing is off. When on, each lap first waits for the
/// device, so asynchronous backends (wgpu) charge work to the phase that queued it.
pub(crate) struct PhaseClock<'a>(Option<(Instant, &'a Device)>);

impl<'a> PhaseClock<'a> {
    pub(crate) fn start(device: Option<&'a Device>) -> Self {
        Self(device.map(|d| {
            let _ = d.sync();
            (Instant::now(), d)
        }))
    }

    /// Time since the last lap (zero when off).
    pub(crate) fn lap(&mut self) -> Duration {
        match &mut self.0 {
            Some((last, device)) => {
                let _ = device.sync();
                let now = Instant::now();
                let lap = now - *last;
                *last = now;
                lap
            }
            None => Duration::ZERO,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_sum_and_share() {
        let mut t = StepTimes::default();
        let ms = Duration::from_millis;
        t.add(ms(1), ms(2), ms(3), ms(4), 64);
        t.add(ms(1), ms(2), ms(3), ms(4), 64);
        assert_eq!(t.total(), ms(20));
        assert_eq!((t.steps, t.samples), (2, 128));
        let shares = t.shares();
        assert!((shares[0] - 0.1).abs() < 1e-12 && (shares[3] - 0.4).abs() < 1e-12);
        assert!((shares.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        let mut off = PhaseClock::start(None);
        assert_eq!(off.lap(), Duration::ZERO);
    }

    #[test]
    fn warm_up_steps_are_left_out() {
        let mut t = StepTimes::after_warm_up(2);
        let ms = Duration::from_millis;
        t.add(ms(100), ms(100), ms(100), ms(100), 64);
        t.add(ms(50), ms(50), ms(50), ms(50), 64);
        t.add(ms(1), ms(2), ms(3), ms(4), 32);
        assert_eq!((t.total(), t.steps, t.samples, t.seen), (ms(10), 1, 32, 3));
    }
}
