//! Admission control for CPU-bound work: at most `slots` jobs run at once and at most
//! `waiting` more wait for a slot; anything beyond is refused at once (HTTP 503 with
//! `Retry-After`), so a burst never makes the server hang or grow without bound.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

/// Why a job was not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Every slot is busy and the waiting line is full.
    Full,
    /// It waited longer than the request's time limit.
    TimedOut,
    /// The server is shutting down.
    ShuttingDown,
}

/// A bounded queue in front of a pool of slots.
#[derive(Debug)]
pub struct Queue {
    slots: Arc<Semaphore>,
    capacity: usize,
    admitted: Arc<AtomicUsize>,
    running: Arc<AtomicUsize>,
}

/// A job's place: counts as admitted until dropped.
#[derive(Debug)]
pub struct Ticket {
    admitted: Arc<AtomicUsize>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.admitted.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A running job's slot: held until the job ends (also when its request has given up
/// waiting for it, so the count of running jobs stays true).
#[derive(Debug)]
pub struct Slot {
    _permit: OwnedSemaphorePermit,
    _ticket: Ticket,
    running: Arc<AtomicUsize>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.running.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Queue {
    /// `slots` concurrent jobs (at least one), `waiting` more in line.
    pub fn new(slots: usize, waiting: usize) -> Self {
        let slots = slots.max(1);
        Self {
            slots: Arc::new(Semaphore::new(slots)),
            capacity: slots + waiting,
            admitted: Arc::default(),
            running: Arc::default(),
        }
    }

    /// Takes a place in line, or refuses at once when the line is full.
    pub fn admit(&self) -> Result<Ticket, Refused> {
        let before = self.admitted.fetch_add(1, Ordering::SeqCst);
        let ticket = Ticket {
            admitted: self.admitted.clone(),
        };
        if before >= self.capacity {
            return Err(Refused::Full);
        }
        Ok(ticket)
    }

    /// Waits for a slot, at most `limit`; gives up when `shutdown` turns true.
    pub async fn slot(
        &self,
        ticket: Ticket,
        limit: Duration,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<Slot, Refused> {
        if *shutdown.borrow() {
            return Err(Refused::ShuttingDown);
        }
        let permit = tokio::select! {
            permit = tokio::time::timeout(limit, self.slots.clone().acquire_owned()) => match permit {
                Ok(Ok(permit)) => permit,
                // The semaphore is never closed; a closed one means no more work.
                Ok(Err(_)) => return Err(Refused::ShuttingDown),
                Err(_) => return Err(Refused::TimedOut),
            },
            _ = shutdown.wait_for(|down| *down) => return Err(Refused::ShuttingDown),
        };
        self.running.fetch_add(1, Ordering::SeqCst);
        Ok(Slot {
            _permit: permit,
            _ticket: ticket,
            running: self.running.clone(),
        })
    }

    /// Jobs running now.
    pub fn running(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }

    /// Jobs waiting for a slot now.
    pub fn waiting(&self) -> usize {
        self.admitted
            .load(Ordering::SeqCst)
            .saturating_sub(self.running())
            .min(self.capacity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_line_is_refused_and_a_freed_slot_is_reused() {
        let queue = Queue::new(1, 1);
        let (_tx, mut rx) = watch::channel(false);
        let limit = Duration::from_millis(50);
        let first = queue
            .slot(queue.admit().unwrap(), limit, &mut rx)
            .await
            .unwrap();
        let second = queue.admit().unwrap();
        assert_eq!(queue.admit().unwrap_err(), Refused::Full);
        assert_eq!((queue.running(), queue.waiting()), (1, 1));
        assert_eq!(
            queue.slot(second, limit, &mut rx).await.unwrap_err(),
            Refused::TimedOut
        );
        drop(first);
        assert_eq!((queue.running(), queue.waiting()), (0, 0));
        let again = queue.slot(queue.admit().unwrap(), limit, &mut rx).await;
        assert!(again.is_ok());
    }

    #[tokio::test]
    async fn waiting_jobs_are_refused_at_shutdown() {
        let queue = Queue::new(1, 4);
        let (tx, mut rx) = watch::channel(false);
        let limit = Duration::from_secs(60);
        let _busy = queue
            .slot(queue.admit().unwrap(), limit, &mut rx)
            .await
            .unwrap();
        let waiter = queue.admit().unwrap();
        let mut rx2 = rx.clone();
        tx.send(true).unwrap();
        assert_eq!(
            queue.slot(waiter, limit, &mut rx2).await.unwrap_err(),
            Refused::ShuttingDown
        );
    }
}
