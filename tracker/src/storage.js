// All persistent state lives under one prefix in localStorage/sessionStorage. While consent
// is pending (or storage is blocked) values are kept in memory only, so nothing is written
// to the device before the visitor agrees.
const PREFIX = 'aa_';
const KEYS = ['uid', 'identified_uid', 'traits', 'sc', 'fv', 'ft', 'exp', 'sid', 'last_activity', 'utm'];
const SESSION_KEYS = ['sid', 'last_activity', 'utm'];
const mem = {};
let hold = false;

function area(key) {
  return SESSION_KEYS.indexOf(key) >= 0 ? sessionStorage : localStorage;
}

function write(key, value) {
  try {
    if (value == null) area(key).removeItem(PREFIX + key);
    else area(key).setItem(PREFIX + key, value);
    return true;
  } catch {
    return false;
  }
}

export function get(key) {
  if (key in mem) return mem[key];
  try {
    return area(key).getItem(PREFIX + key);
  } catch {
    return null;
  }
}

// `persist` forces a write even while holding: used for the consent decision itself.
export function set(key, value, persist) {
  value = value == null ? null : String(value);
  if ((!hold || persist) && write(key, value)) delete mem[key];
  else mem[key] = value;
}

export function getJSON(key) {
  try {
    return JSON.parse(get(key)) || null;
  } catch {
    return null;
  }
}

export function setJSON(key, value) {
  set(key, value == null ? null : JSON.stringify(value));
}

export function holdStorage(on) {
  hold = on;
  if (!on) for (const k in mem) if (write(k, mem[k])) delete mem[k];
}

export function clearStorage() {
  for (const k of KEYS) {
    delete mem[k];
    write(k, null);
  }
}
