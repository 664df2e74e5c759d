// The alarm for a new emergency: a tone made with Web Audio (no sound file) and a red flash.

const FLASH_MS = 6000;
let audio = null;
let titleTimer = null;

/** Browsers only allow sound after a gesture; call this from the first click or key press. */
export function unlockAudio() {
  if (audio) return;
  try {
    audio = new AudioContext();
  } catch {
    audio = null; // no audio device: the flash still shows
  }
}

function beep() {
  if (!audio) return;
  const start = audio.currentTime;
  // Three falling two-tone pulses: distinct from a phone ring and from other software.
  for (let i = 0; i < 3; i += 1) {
    for (const [offset, frequency] of [[0, 988], [0.18, 740]]) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = frequency;
      osc.type = "square";
      const at = start + i * 0.5 + offset;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.25, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.16);
      osc.connect(gain).connect(audio.destination);
      osc.start(at);
      osc.stop(at + 0.17);
    }
  }
}

/** Sound and flash for an emergency; `label` is shown in the tab title while it lasts. */
export function soundTheAlarm(label) {
  beep();
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
