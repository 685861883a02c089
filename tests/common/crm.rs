//! The fake vtenext on 127.0.0.1:0 for tests that drive the `easbox` binary from plain
//! (blocking) test code: the fake runs on a runtime of its own, kept alive by [`FakeCrmServer`].

use easbox::crm::fake::{FakeConfig, FakeCrm, FakeHandle, FakeUser};

pub struct FakeCrmServer {
    _rt: tokio::runtime::Runtime,
    /// `http://127.0.0.1:PORT/`, what `easbox crm set --url` takes.
    pub url: String,
    pub handle: FakeHandle,
}

/// Starts the fake with `users` (the first is the admin) and the default configuration.
pub fn start(users: Vec<FakeUser>) -> FakeCrmServer {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime for the fake CRM");
    let cfg = FakeConfig {
        users,
        ..FakeConfig::default()
    };
    let (addr, handle) = rt
        .block_on(FakeCrm::new(cfg).expect("fake CRM").bind("127.0.0.1:0"))
        .expect("bind the fake CRM");
    FakeCrmServer {
        _rt: rt,
        url: format!("http://{addr}/"),
        handle,
    }
}
