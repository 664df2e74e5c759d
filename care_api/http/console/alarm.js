// The alarm: tones made with Web Audio (no sound file) that repeat until the reason for them
// is gone, a red flash and a blinking tab title. Browsers play sound only after a gesture on
// the page, so until the operator clicks or types the console shows that it is silent.

const FLASH_MS = 6000;
// How often a tone repeats while its reason lasts: long enough to talk on the phone over,
// short enough that a room cannot miss it.
export const REPEAT_MS = 4000;
// Most urgent first: the loop plays the first tone that has a reason.
const SEVERITY = ["call120", "escalation", "emergency", "lost"];

let audio = null;
let armed = false;
let repeat = null;
let titleTimer = null;
const reasons = new Map(); // reason ("cases", "link") → tone
const armedListeners = new Set();

/** Arm the sound; call it from a click or key press (browsers refuse sound before one). */
export function armSound() {
  if (armed) return;
  try {
    audio = audio ?? new AudioContext();
    audio.resume?.();
  } catch {
    audio = null; // no audio device: the flash and the banner still show
  }
  armed = true;
  for (const listener of armedListeners) listener(true);
  if (currentTone()) play(currentTone());
}

export const soundArmed = () => armed;

/** `listener(armed)` is called when the sound is armed; returns a function that stops it. */
export function onArmed(listener) {
  armedListeners.add(listener);
  return () => armedListeners.delete(listener);
}

function pulse(at, frequency, length, type = "square", to = null) {
  const osc = audio.createOscillator();
  const gain = audio.createGain();
  osc.type = type;
  osc.frequency.setValueAtTime(frequency, at);
  if (to) osc.frequency.linearRampToValueAtTime(to, at + length);
  gain.gain.setValueAtTime(0.0001, at);
  gain.gain.exponentialRampToValueAtTime(0.25, at + 0.02);
  gain.gain.setValueAtTime(0.25, at + Math.max(0.02, length - 0.04));
  gain.gain.exponentialRampToValueAtTime(0.0001, at + length);
  osc.connect(gain).connect(audio.destination);
  osc.start(at);
  osc.stop(at + length + 0.01);
}

// Each tone says what it is before anyone reads the screen.
const TONES = {
  // Three falling two-tone pulses: a new emergency nobody has taken.
  emergency(start) {
    for (let i = 0; i < 3; i += 1) {
      pulse(start + i * 0.5, 988, 0.16);
      pulse(start + i * 0.5 + 0.18, 740, 0.16);
    }
  },
  // Rising triplets, faster and higher: the ladder has escalated and still nobody took it.
  escalation(start) {
    for (let i = 0; i < 2; i += 1) {
      for (const [n, frequency] of [[0, 880], [1, 1175], [2, 1568]]) {
        pulse(start + i * 0.6 + n * 0.12, frequency, 0.1);
      }
    }
  },
  // A siren sweep, up and down twice: the ladder says call 120.
  call120(start) {
    for (let i = 0; i < 2; i += 1) {
      pulse(start + i * 1.2, 650, 0.6, "sawtooth", 1450);
      pulse(start + i * 1.2 + 0.6, 1450, 0.6, "sawtooth", 650);
    }
  },
  // Two low, long notes: this console lost its connection and is not live.
  lost(start) {
    pulse(start, 330, 0.45, "triangle");
    pulse(start + 0.6, 262, 0.7, "triangle");
  },
};

function currentTone() {
  const active = new Set(reasons.values());
  return SEVERITY.find((tone) => active.has(tone)) ?? null;
}

function play(tone) {
  if (!armed || !audio) return;
  TONES[tone](audio.currentTime + 0.01);
  const body = document.body;
  body.dataset.rings = String(Number(body.dataset.rings || 0) + 1);
  body.dataset.lastTone = tone;
}

/**
 * Sound `tone` for `reason` every REPEAT_MS until it is set to null. A tone more urgent than
 * the one sounding (or the first) plays at once.
 */
export function setAlarm(reason, tone) {
  const before = currentTone();
  if (tone) reasons.set(reason, tone);
  else reasons.delete(reason);
  const now = currentTone();
  document.body.dataset.ringing = now ?? "";
  if (!now) {
    clearInterval(repeat);
    repeat = null;
    return;
  }
  if (now !== before) {
    play(now);
    clearInterval(repeat);
    repeat = setInterval(() => { if (currentTone()) play(currentTone()); }, REPEAT_MS);
  }
}

/** The red flash and blinking title for a new emergency; `label` shows in the tab title. */
export function flash(label) {
  const body = document.body;
  body.classList.remove("alarm");
  void body.offsetWidth; // restart the animation when two alarms follow each other
  body.classList.add("alarm");
  body.dataset.alarms = String(Number(body.dataset.alarms || 0) + 1);
  setTimeout(() => body.classList.remove("alarm"), FLASH_MS);

  const title = document.title.replace(/^\(!\) /, "");
  clearInterval(titleTimer);
  let on = false;
  titleTimer = setInterval(() => {
    on = !on;
    document.title = on ? `(!) ${label}` : title;
  }, 700);
  setTimeout(() => { clearInterval(titleTimer); document.title = title; }, FLASH_MS);
}
