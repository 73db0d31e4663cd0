//! Two operator processes share one Lease: only the leader reconciles, and
//! killing it hands over to the other. A leader that loses its Lease, or
//! cannot renew it because the API server stops answering, stops before
//! another replica could take over.

#[path = "operator_support/mod.rs"]
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};
use operator::crd::AnalyticsPipeline;
use serde_json::json;
use support::{OperatorProcess, kafka_bootstrap, unique, wait_until};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn holder(client: &Client, ns: &str, lease: &str) -> Result<String, String> {
    let leases: Api<Lease> = Api::namespaced(client.clone(), ns);
    leases
        .get_opt(lease)
        .await
        .map_err(|e| e.to_string())?
        .and_then(|l| l.spec)
        .and_then(|s| s.holder_identity)
        .ok_or_else(|| "no lease holder yet".to_string())
}

async fn create_pipeline(client: &Client, ns: &str, name: &str) {
    let api: Api<AnalyticsPipeline> = Api::namespaced(client.clone(), ns);
    let object = json!({
        "apiVersion": "analytics.shopstream.dev/v1alpha1",
        "kind": "AnalyticsPipeline",
        "metadata": {"name": name},
        "spec": {"kafka": {"bootstrapServers": kafka_bootstrap()},
                 "generator": {"enabled": false}, "deletionPolicy": "Delete"},
    });
    api.patch(
        name,
        &PatchParams::apply(support::FIELD_MANAGER),
        &Patch::Apply(&object),
    )
    .await
    .expect("pipeline applied");
}

async fn reconciled_by_someone(client: &Client, ns: &str, name: &str) {
    let api: Api<AnalyticsPipeline> = Api::namespaced(client.clone(), ns);
    wait_until(
        "the pipeline to get a status",
        Duration::from_secs(60),
        || async {
            let p = api.get(name).await.map_err(|e| e.to_string())?;
            match p.status.and_then(|s| s.phase) {
                Some(phase) => Ok(phase),
                None => Err("no phase yet".into()),
            }
        },
    )
    .await;
}

fn log_of(ns: &str, identity: &str) -> String {
    let dir = std::env::var("SHOPSTREAM_LOG_DIR").unwrap_or_else(|_| "/tmp".into());
    std::fs::read_to_string(format!("{dir}/operator-test-{ns}-{identity}.log")).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_leader_reconciles_and_leadership_moves_when_it_dies() {
    let client = support::client().await;
    support::install_crd(&client).await;
    let ns = support::namespace(&client, "op-leader").await;
    let lease = unique("lease");
    let mut first = OperatorProcess::start(&ns, "op-a", &lease);
    let leader = wait_until("a leader", Duration::from_secs(30), || {
        holder(&client, &ns, &lease)
    })
    .await;
    assert_eq!(leader, "op-a");
    let mut second = OperatorProcess::start(&ns, "op-b", &lease);

    let name = unique("shop");
    create_pipeline(&client, &ns, &name).await;
    reconciled_by_someone(&client, &ns, &name).await;
    // Give the standby time to (wrongly) start; it must not.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(log_of(&ns, "op-a").contains("starting controller"));
    assert!(
        !log_of(&ns, "op-b").contains("starting controller"),
        "the standby reconciles too:\n{}",
        log_of(&ns, "op-b")
    );
    assert_eq!(holder(&client, &ns, &lease).await, Ok("op-a".to_string()));

    // Kill the leader without a chance to clean up; the standby takes over
    // once the lease expires and reconciles new pipelines.
    first.kill();
    let next = wait_until("the standby to lead", Duration::from_secs(40), || async {
        match holder(&client, &ns, &lease).await? {
            h if h == "op-b" => Ok(h),
            h => Err(format!("holder is still {h}")),
        }
    })
    .await;
    assert_eq!(next, "op-b");
    let second_name = unique("shop");
    create_pipeline(&client, &ns, &second_name).await;
    reconciled_by_someone(&client, &ns, &second_name).await;
    assert!(log_of(&ns, "op-b").contains("starting controller"));

    // Clean up the topics through the operator (deletionPolicy Delete).
    let api: Api<AnalyticsPipeline> = Api::namespaced(client.clone(), &ns);
    for n in [&name, &second_name] {
        support::delete_pipeline(&api, n, "pipeline deleted", Duration::from_secs(60)).await;
    }
    second.kill();
    support::delete_namespace(&client, &ns).await;
}

/// A TCP proxy in front of the API server that can stop forwarding without
/// closing anything: requests through it then hang, as with an API server
/// or network that stops answering.
struct StallingProxy {
    port: u16,
    stalled: Arc<AtomicBool>,
}

impl StallingProxy {
    async fn start(upstream: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let stalled = Arc::new(AtomicBool::new(false));
        let flag = stalled.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else {
                    continue;
                };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::spawn(pump(client_read, server_write, flag.clone()));
                tokio::spawn(pump(server_read, client_write, flag.clone()));
            }
        });
        Self { port, stalled }
    }

    fn stall(&self) {
        self.stalled.store(true, Ordering::SeqCst);
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    stalled: Arc<AtomicBool>,
) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        // Stalled: hold the bytes, keep the connection open.
        while stalled.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if to.write_all(&buffer[..n]).await.is_err() {
            return;
        }
    }
}

/// The test kubeconfig, parsed.
fn kubeconfig() -> serde_yaml::Value {
    let path = std::env::var("KUBECONFIG").expect("KUBECONFIG");
    let text = std::fs::read_to_string(&path).expect("read KUBECONFIG");
    serde_yaml::from_str(&text).expect("kubeconfig YAML")
}

/// `host:port` of the API server the test kubeconfig names.
fn api_server_address() -> String {
    let config = kubeconfig();
    let server = config["clusters"][0]["cluster"]["server"]
        .as_str()
        .expect("cluster server");
    server
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .to_string()
}

/// A copy of the test kubeconfig that reaches the API server through the
/// proxy on `port` (the server certificate is for 127.0.0.1, whatever the
/// port); returns its path.
fn proxied_kubeconfig(ns: &str, port: u16) -> String {
    let mut config = kubeconfig();
    let clusters = config["clusters"]
        .as_sequence_mut()
        .expect("kubeconfig clusters");
    for cluster in clusters {
        cluster["cluster"]["server"] = serde_yaml::Value::from(format!("https://127.0.0.1:{port}"));
    }
    let dir = std::env::var("SHOPSTREAM_LOG_DIR").unwrap_or_else(|_| "/tmp".into());
    let path = format!("{dir}/kubeconfig-proxied-{ns}");
    std::fs::write(&path, serde_yaml::to_string(&config).expect("kubeconfig")).expect("write");
    path
}

async fn lease_expiry(client: &Client, ns: &str, lease: &str) -> Timestamp {
    let leases: Api<Lease> = Api::namespaced(client.clone(), ns);
    let spec = leases
        .get(lease)
        .await
        .expect("lease")
        .spec
        .expect("lease spec");
    let renewed = spec.renew_time.expect("renew time").0;
    let seconds = spec.lease_duration_seconds.expect("lease duration");
    renewed + Duration::from_secs(u64::try_from(seconds).expect("positive duration"))
}

/// Waits up to `limit` for the operator to exit; returns when it did.
async fn exited(operator: &mut OperatorProcess, limit: Duration) -> Option<Timestamp> {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if let Ok(Some(_)) = operator.child.try_wait() {
            return Some(Timestamp::now());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

/// Renewals that hang (the API server stops answering) must not keep a
/// leader writing: it steps down, and exits, while the lease it last wrote
/// is still valid, so no other replica can lead at the same time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_that_cannot_renew_stops_before_its_lease_runs_out() {
    let client = support::client().await;
    support::install_crd(&client).await;
    let ns = support::namespace(&client, "op-stall").await;
    let lease = unique("lease");
    let proxy = StallingProxy::start(api_server_address()).await;
    let kubeconfig = proxied_kubeconfig(&ns, proxy.port);
    let mut operator =
        OperatorProcess::start_with(&ns, "op-a", &lease, &[("KUBECONFIG", kubeconfig.as_str())]);
    wait_until("op-a to lead", Duration::from_secs(30), || async {
        match holder(&client, &ns, &lease).await? {
            h if h == "op-a" => Ok(()),
            h => Err(h),
        }
    })
    .await;
    let name = unique("shop");
    create_pipeline(&client, &ns, &name).await;
    reconciled_by_someone(&client, &ns, &name).await;

    proxy.stall();
    // The lease as the API server has it, read around the stall (a renewal
    // in flight may still land).
    let before = lease_expiry(&client, &ns, &lease).await;
    let exit = exited(&mut operator, Duration::from_secs(20)).await;
    let after = lease_expiry(&client, &ns, &lease).await;
    let expiry = before.max(after);
    let Some(exit) = exit else {
        panic!(
            "the leader kept running 20 s after its API server stopped answering (lease valid until {expiry}):\n{}",
            operator.log(&ns)
        );
    };
    assert!(
        exit < expiry,
        "the leader exited at {exit}, after its lease ran out at {expiry}:\n{}",
        operator.log(&ns)
    );
    assert!(
        operator.log(&ns).contains("lost leadership"),
        "{}",
        operator.log(&ns)
    );

    let api: Api<AnalyticsPipeline> = Api::namespaced(client.clone(), &ns);
    let standby = OperatorProcess::start(&ns, "op-b", &lease);
    support::delete_pipeline(&api, &name, "pipeline deleted", Duration::from_secs(60)).await;
    drop(standby);
    support::delete_namespace(&client, &ns).await;
}

/// A leader whose Lease someone else took stops at its next renewal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_whose_lease_is_taken_stops() {
    let client = support::client().await;
    support::install_crd(&client).await;
    let ns = support::namespace(&client, "op-steal").await;
    let lease = unique("lease");
    let mut operator = OperatorProcess::start(&ns, "op-a", &lease);
    wait_until("op-a to lead", Duration::from_secs(30), || async {
        match holder(&client, &ns, &lease).await? {
            h if h == "op-a" => Ok(()),
            h => Err(h),
        }
    })
    .await;

    let leases: Api<Lease> = Api::namespaced(client.clone(), &ns);
    let mut current = leases.get(&lease).await.expect("lease");
    let spec = current.spec.get_or_insert_with(Default::default);
    spec.holder_identity = Some("thief".into());
    spec.renew_time = Some(MicroTime(Timestamp::now()));
    spec.lease_duration_seconds = Some(60);
    leases
        .replace(&lease, &Default::default(), &current)
        .await
        .expect("take the lease");
    let taken = Timestamp::now();

    // The next renewal (every 2 s with the tests' 6 s lease) sees it.
    let Some(exit) = exited(&mut operator, Duration::from_secs(10)).await else {
        panic!(
            "the leader kept running with a lost lease:\n{}",
            operator.log(&ns)
        );
    };
    assert!(
        exit.duration_since(taken).as_secs_f64() < 4.0,
        "stopped only {} after losing the lease",
        exit.duration_since(taken)
    );
    assert!(
        operator.log(&ns).contains("lost the lease"),
        "{}",
        operator.log(&ns)
    );
    assert_eq!(holder(&client, &ns, &lease).await, Ok("thief".to_string()));
    support::delete_namespace(&client, &ns).await;
}
