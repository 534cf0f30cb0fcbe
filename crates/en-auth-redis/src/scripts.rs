//! The Lua scripts that make the store's compare-and-set and compare-and-delete atomic in Redis
//! (run by `EVALSHA` through [`redis::Script`], which loads a script Redis lacks). The clear
//! header of a value they read, `1|<expiry>|<id>|`, is en-auth-core's shared value format
//! (`en_auth_core::sealed`).

use redis::Script;

/// Writes the value unless the stored one expires later (its header's second field).
/// KEYS[1] the key; ARGV[1] the value, ARGV[2] its expiry (Unix seconds), ARGV[3] its TTL (ms).
const PUT_IF_NEWER: &str = r"
local current = redis.call('GET', KEYS[1])
if current then
  local expiry = string.match(current, '^1|(%d+)|')
  if expiry and tonumber(expiry) > tonumber(ARGV[2]) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1
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
            renew_lock: Script::new(RENEW_LOCK),
            unlock: Script::new(UNLOCK),
        }
    }
}
