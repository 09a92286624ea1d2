//! The floor for bench/proxy.sh: a plain TCP relay (no HTTP, no guard) on loopback, listening on
//! an ephemeral port (printed on stdout) and copying bytes both ways to UPSTREAM (`HOST:PORT`).
//! Whatever a relay costs on this machine, any proxy pays; the guard's own share is the rest.
//!
//! Usage: tcp_relay UPSTREAM

fn main() {
    let Some(upstream) = std::env::args().nth(1) else {
        eprintln!("usage: tcp_relay HOST:PORT");
        std::process::exit(2);
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    rt.block_on(async move {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("bind: {e}"));
        if let Ok(a) = l.local_addr() {
            println!("{a}");
        }
        loop {
            let Ok((mut down, _)) = l.accept().await else {
                continue;
            };
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let _ = down.set_nodelay(true);
                if let Ok(mut up) = tokio::net::TcpStream::connect(&upstream).await {
                    let _ = up.set_nodelay(true);
                    let _ = tokio::io::copy_bidirectional(&mut down, &mut up).await;
                }
            });
        }
    });
}
