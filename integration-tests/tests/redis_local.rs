//! The local environment's Redis works as the serving layer's tests need it
//! (hack/redis/): commands and TTLs through the `redis` crate, a restart
//! that keeps what Redis acknowledged, and an instance that refuses clients
//! without its password.

mod redis_env;

use std::time::Duration;

use redis::AsyncCommands;
use redis_env::{Instance, Stop};

/// Tests in this file that use the open instance hold this, so the restart
/// test never pulls the server from under another test.
static OPEN_INSTANCE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("test:{prefix}:{nanos}")
}

async fn config_get(conn: &mut redis::aio::MultiplexedConnection, name: &str) -> String {
    let pair: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg(name)
        .query_async(conn)
        .await
        .expect("CONFIG GET");
    pair.get(1)
        .cloned()
        .unwrap_or_else(|| panic!("no config {name}"))
}

#[tokio::test]
async fn open_instance_answers_commands_and_expires_keys() {
    let _serial = OPEN_INSTANCE.lock().await;
    let mut conn = redis_env::connect(Instance::Open).await;

    let pong: String = redis::cmd("PING").query_async(&mut conn).await.unwrap();
    assert_eq!(pong, "PONG");

    // What the environment promises: loopback only, AOF persistence.
    assert_eq!(config_get(&mut conn, "bind").await, "127.0.0.1");
    assert_eq!(config_get(&mut conn, "protected-mode").await, "yes");
    assert_eq!(config_get(&mut conn, "appendonly").await, "yes");
    let info: String = redis::cmd("INFO")
        .arg("server")
        .query_async(&mut conn)
        .await
        .unwrap();
    let major: u32 = info
        .lines()
        .find_map(|l| l.strip_prefix("redis_version:"))
        .and_then(|v| v.split('.').next())
        .and_then(|v| v.parse().ok())
        .expect("redis_version in INFO");
    assert!(
        major >= 7,
        "Redis 7 or later expected (Debian 12 ships 7.0): {info}"
    );

    let key = unique("ttl");
    let () = conn.set_ex(&key, "4242", 120).await.unwrap();
    let value: String = conn.get(&key).await.unwrap();
    assert_eq!(value, "4242");
    let ttl: i64 = conn.ttl(&key).await.unwrap();
    assert!((1..=120).contains(&ttl), "TTL {ttl} s, set to 120 s");

    // A short TTL really expires the key (the serving layer's 1 h / 2 h TTLs
    // are the same mechanism).
    let () = redis::cmd("PEXPIRE")
        .arg(&key)
        .arg(300)
        .query_async(&mut conn)
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let exists: bool = conn.exists(&key).await.unwrap();
        if !exists {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{key} still exists 10 s after a 300 ms TTL"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn restart_keeps_what_redis_acknowledged() {
    let _serial = OPEN_INSTANCE.lock().await;
    // A long-lived client, as the serving layer keeps one across a restart.
    let mut manager = redis_env::connection_manager(Instance::Open).await;

    for stop in [Stop::Clean, Stop::Crash] {
        let mut conn = redis_env::connect(Instance::Open).await;
        let pid_before = redis_env::server_pid(&mut conn).await;
        let key = unique("restart");
        let ranking = format!("{key}:ranking");
        let () = conn.set_ex(&key, "kept", 600).await.unwrap();
        let () = conn
            .zadd_multiple(&ranking, &[(30.0, "p1"), (10.0, "p2"), (20.0, "p3")])
            .await
            .unwrap();

        redis_env::restart(Instance::Open, stop).await;

        let mut conn = redis_env::connect(Instance::Open).await;
        let pid_after = redis_env::server_pid(&mut conn).await;
        assert_ne!(
            pid_before, pid_after,
            "{stop:?}: the server was not restarted"
        );
        let value: Option<String> = conn.get(&key).await.unwrap();
        assert_eq!(value.as_deref(), Some("kept"), "{stop:?}: the key was lost");
        let ttl: i64 = conn.ttl(&key).await.unwrap();
        assert!(
            (1..=600).contains(&ttl),
            "{stop:?}: TTL {ttl} s after the restart"
        );
        let top: Vec<String> = conn.zrevrange(&ranking, 0, 1).await.unwrap();
        assert_eq!(top, ["p1", "p3"], "{stop:?}: the sorted set changed");

        // The ConnectionManager reconnects by itself; its first commands may
        // still fail while it notices the old connection is gone, so a
        // client retries (bounded here).
        let mut seen = None;
        for _ in 0..50 {
            match manager.get::<_, Option<String>>(&key).await {
                Ok(v) => {
                    seen = Some(v);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        assert_eq!(
            seen,
            Some(Some("kept".to_string())),
            "{stop:?}: the ConnectionManager did not recover within 5 s"
        );
        let () = conn.del(&[&key, &ranking]).await.unwrap();
    }
}

#[tokio::test]
async fn auth_instance_refuses_clients_without_the_password() {
    let addr = Instance::Auth.addr();
    let password = redis_env::auth_password();
    assert!(
        password.len() >= 32,
        "a generated password, not a placeholder"
    );

    // No password: the connection opens, every command is refused.
    let mut anonymous = redis_env::connect_url(&redis_env::url(&addr, None))
        .await
        .expect("TCP connection to the auth instance");
    let refused = redis::cmd("PING")
        .query_async::<String>(&mut anonymous)
        .await
        .expect_err("PING without the password must be refused");
    assert!(
        refused.to_string().contains("NOAUTH"),
        "expected NOAUTH, got: {refused}"
    );

    // A wrong password: the client's AUTH on connect fails.
    let wrong = redis_env::connect_url(&redis_env::url(&addr, Some("not-the-password"))).await;
    let Err(wrong) = wrong else {
        panic!("a wrong password must be refused")
    };
    assert_eq!(
        wrong.kind(),
        redis::ErrorKind::AuthenticationFailed,
        "expected an authentication failure, got: {wrong}"
    );

    // The password from the file: accepted; it survives a restart.
    let mut conn = redis_env::connect(Instance::Auth).await;
    let key = unique("auth");
    let () = conn.set_ex(&key, "secret-ok", 60).await.unwrap();
    redis_env::restart(Instance::Auth, Stop::Clean).await;
    let mut conn = redis_env::connect(Instance::Auth).await;
    let value: Option<String> = conn.get(&key).await.unwrap();
    assert_eq!(value.as_deref(), Some("secret-ok"));
    let () = conn.del(&key).await.unwrap();
}
