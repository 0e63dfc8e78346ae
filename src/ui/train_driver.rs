//! The one in-browser training driver every live demo uses: start / pause,
//! a step budget, steps per second, and a loop that yields to the browser
//! between steps so the page stays responsive. The demo supplies `step`, an
//! async closure that runs one optimisation step and reports its numbers.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;

use yew::Callback;

use crate::runtime::event_loop::{now_ms, yield_now};

/// What the driver tells the page after each step.
pub enum DriverEvent<R> {
    Step {
        report: R,
        step_ms: f64,
    },
    /// The step failed: training stopped, the message says why.
    Failed(String),
    /// Paused by the visitor, or the step budget is spent.
    Stopped,
}

#[derive(Clone, Default)]
pub struct TrainDriver {
    running: Rc<Cell<bool>>,
    /// Bumped on every start and on teardown, so an old loop ends even if a
    /// new one started before it noticed the pause.
    run_id: Rc<Cell<u64>>,
}

impl PartialEq for TrainDriver {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.running, &other.running)
    }
}

impl TrainDriver {
    pub fn is_running(&self) -> bool {
        self.running.get()
    }

    /// Runs `step` up to `budget` times, each from a macrotask of its own.
    pub fn start<R, F, Fut>(&self, budget: usize, mut step: F, events: Callback<DriverEvent<R>>)
    where
        R: 'static,
        F: FnMut() -> Fut + 'static,
        Fut: Future<Output = Result<R, String>> + 'static,
    {
        if self.running.get() {
            return;
        }
        self.running.set(true);
        let id = self.run_id.get() + 1;
        self.run_id.set(id);
        let (running, run_id) = (self.running.clone(), self.run_id.clone());
        wasm_bindgen_futures::spawn_local(async move {
            let live = || running.get() && run_id.get() == id;
            let mut done = 0;
            loop {
                // Let the browser paint and handle input before each step: the
                // last step's point, and before the first, the start click's
                // own re-render, which was otherwise in one task with the first
                // step's start (the SimCLR CPU fallback's first long task,
                // scripts/profile_training.mjs, 2026-11-30).
                yield_now().await;
                if !live() || done >= budget {
                    break;
                }
                let t0 = now_ms();
                let result = step().await;
                if run_id.get() != id {
                    return; // torn down or restarted meanwhile
                }
                match result {
                    Ok(report) => {
                        done += 1;
                        events.emit(DriverEvent::Step {
                            report,
                            step_ms: now_ms() - t0,
                        });
                    }
                    Err(message) => {
                        running.set(false);
                        events.emit(DriverEvent::Failed(message));
                        return;
                    }
                }
            }
            if run_id.get() == id {
                running.set(false);
                events.emit(DriverEvent::Stopped);
            }
        });
    }

    pub fn pause(&self) {
        self.running.set(false);
    }

    /// Ends any loop for good (page left, model replaced).
    pub fn stop(&self) {
        self.running.set(false);
        self.run_id.set(self.run_id.get() + 1);
    }
}

/// Steps per second as an exponential moving average of step times.
#[derive(Clone, Copy, Default, PartialEq)]
pub struct Throughput {
    mean_ms: Option<f64>,
}

impl Throughput {
    pub fn record(&mut self, step_ms: f64) {
        self.mean_ms = Some(match self.mean_ms {
            None => step_ms,
            Some(m) => 0.8 * m + 0.2 * step_ms,
        });
    }

    pub fn steps_per_second(&self) -> Option<f64> {
        self.mean_ms.map(|m| 1000.0 / m.max(1e-3))
    }
}

/// A page's model between steps. The model is taken out while a step (or an
/// export, a probe) runs; `clear` (reset, a new encoder or images, a new
/// device) bumps `epoch`, so a step that was in flight then does not put the
/// old model back.
pub struct ModelSlot<R> {
    pub runner: Option<R>,
    pub epoch: u64,
}

impl<R> Default for ModelSlot<R> {
    fn default() -> Self {
        Self {
            runner: None,
            epoch: 0,
        }
    }
}

impl<R> ModelSlot<R> {
    pub fn clear(&mut self) {
        self.runner = None;
        self.epoch += 1;
    }

    pub fn take(&mut self) -> Option<(u64, R)> {
        self.runner.take().map(|r| (self.epoch, r))
    }

    pub fn put_back(&mut self, epoch: u64, runner: R) {
        if epoch == self.epoch {
            self.runner = Some(runner);
        }
    }
}

/// The model for one step, taken out of `slot`: built first by `build` when
/// `pending` holds what to build it from (a run's first step, which in a
/// worker is an asynchronous start). A `clear` while it was built ends the
/// run: its driver knows, and the model is dropped.
pub async fn take_or_build<R, B, Fut>(
    slot: &RefCell<ModelSlot<R>>,
    pending: Option<B>,
    build: impl FnOnce(B) -> Fut,
) -> Result<(u64, R), String>
where
    Fut: Future<Output = R>,
{
    if let Some(new) = pending {
        let epoch = slot.borrow().epoch;
        let runner = build(new).await;
        if slot.borrow().epoch != epoch {
            return Err("the model was replaced".to_string());
        }
        slot.borrow_mut().put_back(epoch, runner);
    }
    slot.borrow_mut()
        .take()
        .ok_or_else(|| "the model is busy".to_string())
}
