//! The Ping hub ([MS-ASCMD] 2.2.1.13): parked Pings wait on a per-user change counter and a
//! per-device generation, with no thread and a few hundred bytes each. A change to a user's
//! folders bumps the counter and wakes every parked Ping of that user, which then checks its
//! own folders; a newer Ping from the same device bumps the generation and ends the older one.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tokio::sync::watch;

/// Parked Pings at most, box-wide; past it a Ping gets 503 with Retry-After.
pub const MAX_PARKED_PINGS: u32 = 10_000;

/// Why a parked Ping woke up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    /// Something of the user's changed; the Ping checks its folders.
    Changed,
    /// A newer Ping of the same device took over.
    Superseded,
    /// The heartbeat ran out.
    Expired,
    /// The server is shutting down.
    Shutdown,
}

#[derive(Default)]
struct UserSlot {
    changes: Option<watch::Sender<u64>>,
    devices: HashMap<String, watch::Sender<u64>>,
    parked: u32,
}

/// Box-wide registry of parked Pings.
pub struct PingHub {
    users: Mutex<HashMap<String, UserSlot>>,
    parked: AtomicU32,
    cap: u32,
    shutdown: watch::Sender<bool>,
}

/// The hub refused to park: the cap is reached.
#[derive(Debug, PartialEq, Eq)]
pub struct HubFull;

impl PingHub {
    pub fn new(cap: u32) -> Self {
        PingHub {
            users: Mutex::new(HashMap::new()),
            parked: AtomicU32::new(0),
            cap,
            shutdown: watch::channel(false).0,
        }
    }

    /// Pings parked right now.
    pub fn parked(&self) -> u32 {
        self.parked.load(Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, UserSlot>> {
        // A panic while holding the lock cannot leave the map inconsistent (every update is a
        // single insert/remove), so a poisoned lock is still usable.
        self.users.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wakes every parked Ping of `user`.
    pub fn notify_user(&self, user: &str) {
        if let Some(tx) = self.lock().get(user).and_then(|s| s.changes.as_ref()) {
            tx.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    /// Ends every parked Ping (shutdown).
    pub fn shut_down(&self) {
        self.shutdown.send_replace(true);
    }

    /// Parks a Ping of `device_id` of `user`, ending that device's older Ping if any.
    pub fn park(&self, user: &str, device_id: &str) -> Result<Parked<'_>, HubFull> {
        let mut prev = self.parked.load(Ordering::Relaxed);
        loop {
            if prev >= self.cap {
                return Err(HubFull);
            }
            match self.parked.compare_exchange_weak(
                prev,
                prev + 1,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(now) => prev = now,
            }
        }
        let mut users = self.lock();
        let slot = users.entry(user.to_owned()).or_default();
        slot.parked += 1;
        let changes = slot
            .changes
            .get_or_insert_with(|| watch::channel(0).0)
            .subscribe();
        let gen_tx = slot
            .devices
            .entry(device_id.to_owned())
            .or_insert_with(|| watch::channel(0).0);
        gen_tx.send_modify(|g| *g = g.wrapping_add(1));
        let generation = gen_tx.subscribe();
        Ok(Parked {
            hub: self,
            user: user.to_owned(),
            device_id: device_id.to_owned(),
            changes,
            generation,
            shutdown: self.shutdown.subscribe(),
        })
    }
}

/// One parked Ping; dropping it unparks.
pub struct Parked<'h> {
    hub: &'h PingHub,
    user: String,
    device_id: String,
    changes: watch::Receiver<u64>,
    generation: watch::Receiver<u64>,
    shutdown: watch::Receiver<bool>,
}

impl Parked<'_> {
    /// Waits for the next reason to wake, at most `timeout`.
    pub async fn wait(&mut self, timeout: Duration) -> Wake {
        if *self.shutdown.borrow() {
            return Wake::Shutdown;
        }
        tokio::select! {
            r = self.changes.changed() => if r.is_ok() { Wake::Changed } else { Wake::Shutdown },
            _ = self.generation.changed() => Wake::Superseded,
            _ = self.shutdown.changed() => Wake::Shutdown,
            _ = tokio::time::sleep(timeout) => Wake::Expired,
        }
    }
}

impl Drop for Parked<'_> {
    fn drop(&mut self) {
        self.hub.parked.fetch_sub(1, Ordering::AcqRel);
        let mut users = self.hub.lock();
        if let Some(slot) = users.get_mut(&self.user) {
            slot.parked = slot.parked.saturating_sub(1);
            if slot.parked == 0 {
                users.remove(&self.user);
            } else if let Some(tx) = slot.devices.get(&self.device_id)
                && tx.receiver_count() <= 1
            {
                // Only this Ping's receiver is left: the device has no other parked Ping.
                slot.devices.remove(&self.device_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
    }

    #[test]
    fn a_change_wakes_every_ping_of_the_user_only() {
        rt().block_on(async {
            let hub = PingHub::new(10);
            let mut a = hub.park("u", "A").unwrap();
            let mut b = hub.park("u", "B").unwrap();
            let mut other = hub.park("v", "C").unwrap();
            hub.notify_user("u");
            assert_eq!(a.wait(Duration::from_secs(5)).await, Wake::Changed);
            assert_eq!(b.wait(Duration::from_secs(5)).await, Wake::Changed);
            assert_eq!(other.wait(Duration::from_millis(20)).await, Wake::Expired);
        });
    }

    #[test]
    fn a_newer_ping_of_the_same_device_supersedes_the_older() {
        rt().block_on(async {
            let hub = PingHub::new(10);
            let mut old = hub.park("u", "A").unwrap();
            let mut new = hub.park("u", "A").unwrap();
            assert_eq!(old.wait(Duration::from_secs(5)).await, Wake::Superseded);
            drop(old);
            assert_eq!(new.wait(Duration::from_millis(20)).await, Wake::Expired);
        });
    }

    #[test]
    fn the_cap_refuses_and_unparking_frees_a_place() {
        let hub = PingHub::new(2);
        let a = hub.park("u", "A").unwrap();
        let _b = hub.park("u", "B").unwrap();
        assert_eq!(hub.park("u", "C").err(), Some(HubFull));
        assert_eq!(hub.parked(), 2);
        drop(a);
        assert_eq!(hub.parked(), 1);
        assert!(hub.park("u", "C").is_ok());
    }

    #[test]
    fn shutdown_wakes_parked_and_later_pings() {
        rt().block_on(async {
            let hub = PingHub::new(10);
            let mut a = hub.park("u", "A").unwrap();
            hub.shut_down();
            assert_eq!(a.wait(Duration::from_secs(5)).await, Wake::Shutdown);
            let mut late = hub.park("u", "B").unwrap();
            assert_eq!(late.wait(Duration::from_secs(5)).await, Wake::Shutdown);
        });
    }

    #[test]
    fn empty_slots_are_removed() {
        let hub = PingHub::new(10);
        let a = hub.park("u", "A").unwrap();
        drop(a);
        assert!(hub.lock().is_empty());
    }
}
