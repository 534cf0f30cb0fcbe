//! The Lua scripts that make the store's compare-and-set and compare-and-delete atomic in Redis
//! (run by `EVALSHA` through [`redis::Script`], which loads a script Redis lacks). The clear
//! header of a value they read, `1|<expiry>|<id>|`, is en-auth-core's shared value format
//! (`en_auth_core::sealed`).

use redis::Script;

/// Writes the value unless the stored one expires later (its header's second field) — and no
/// later than ARGV[4]: a stored value whose clear expiry is beyond that bound (a replica whose
/// clock runs far ahead, a planted value; the header is not authenticated here) does not count
/// and is overwritten. A value without a header is overwritten too.
/// KEYS[1] the key; ARGV[1] the value, ARGV[2] its expiry (Unix seconds), ARGV[3] its TTL (ms),
/// ARGV[4] the latest expiry a stored value may claim (Unix seconds).
const PUT_IF_NEWER: &str = r"
local current = redis.call('GET', KEYS[1])
if current then
  local expiry = tonumber(string.match(current, '^1|(%d+)|'))
  if expiry and expiry > tonumber(ARGV[2]) and expiry <= tonumber(ARGV[4]) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1
";

/// Deletes the value if it is, byte for byte, ARGV[1]: a value that did not open, removed
/// without touching a token written since it was read.
const DELETE_IF_EQUAL: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// Deletes the value if its id (the header's third field) is ARGV[1].
const DELETE_IF_SAME: &str = r"
local current = redis.call('GET', KEYS[1])
if current and string.match(current, '^1|%d+|([0-9a-f]*)|') == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
";

/// Deletes the lock if ARGV[1] holds it.
const UNLOCK: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// Sets the lock's time to live to ARGV[2] milliseconds if ARGV[1] holds it.
const RENEW_LOCK: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
";

/// The store's scripts, hashed once.
pub(crate) struct Scripts {
    /// [`PUT_IF_NEWER`].
    pub(crate) put_if_newer: Script,
    /// [`DELETE_IF_SAME`].
    pub(crate) delete_if_same: Script,
    /// [`DELETE_IF_EQUAL`].
    pub(crate) delete_if_equal: Script,
    /// [`RENEW_LOCK`].
    pub(crate) renew_lock: Script,
    /// [`UNLOCK`].
    pub(crate) unlock: Script,
}

impl Scripts {
    pub(crate) fn new() -> Self {
        Self {
            put_if_newer: Script::new(PUT_IF_NEWER),
            delete_if_same: Script::new(DELETE_IF_SAME),
            delete_if_equal: Script::new(DELETE_IF_EQUAL),
            renew_lock: Script::new(RENEW_LOCK),
            unlock: Script::new(UNLOCK),
        }
    }
}
