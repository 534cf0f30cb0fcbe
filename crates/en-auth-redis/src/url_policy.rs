//! Which Redis URLs the store accepts: `rediss://`, or plain `redis://` to loopback only, and
//! never a fragment (the redis crate reads `#insecure` as "do not verify the certificate").

use en_auth_core::Error;

use crate::builder::config_error;

/// `localhost` or a loopback address (IPv6 with or without brackets).
pub(crate) fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Checks one URL: `redis://` (loopback only) or `rediss://`, no fragment.
pub(crate) fn check_url(raw: &str) -> Result<(), Error> {
    let url = url::Url::parse(raw).map_err(|_| {
        config_error(
            "url",
            format!("not a URL: {}", en_auth_core::redacted_urls(raw)),
        )
    })?;
    if url.fragment().is_some() {
        // The redis crate reads `#insecure` as "do not verify the server's certificate".
        return Err(config_error(
            "url",
            format!(
                "must not have a fragment (#…; `#insecure` would turn off certificate verification): {}",
                en_auth_core::redacted_urls(raw)
            ),
        ));
    }
    match url.scheme() {
        "rediss" => Ok(()),
        "redis" => {
            let loopback = match url.host() {
                // `redis:` is not a special scheme: its host is opaque text, even an address.
                Some(url::Host::Domain(d)) => is_loopback_host(d),
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                None => false,
            };
            if loopback {
                Ok(())
            } else {
                Err(config_error(
                    "url",
                    format!(
                        "plain redis:// is allowed to loopback only (the password and the sealed tokens would cross the network in clear): use rediss:// for {}",
                        en_auth_core::redacted_urls(raw)
                    ),
                ))
            }
        }
        other => Err(config_error(
            "url",
            format!("the scheme must be redis:// or rediss://, not {other}://"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use crate::RedisStore;

    #[test]
    fn a_url_with_a_fragment_is_refused() {
        // The redis crate reads `#insecure` as "do not verify the server's certificate".
        for url in [
            "rediss://cache.example.com:6380/#insecure",
            "rediss://cache.example.com:6380#insecure",
            "redis://127.0.0.1:6379/#insecure",
            "rediss://a.example:6380,rediss://b.example:6380/#insecure",
        ] {
            let e = RedisStore::builder(url)
                .encryption_key([1u8; 32])
                .build()
                .unwrap_err()
                .to_string();
            assert!(e.contains("url") && e.contains("fragment"), "{url}: {e}");
        }
    }
}
