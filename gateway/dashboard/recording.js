// Recording control: pause, resume and reset (after a confirm) the history of
// one host or of all hosts, and the chip that says which is in force.
import { el, guard, post } from './api.js';

/** The chip text and kind of a recording status. */
export function recordingText(status) {
  if (status.recording) return ['recording', 'ok'];
  return [status.paused_by === 'all' ? 'paused (all hosts)' : 'paused', 'warn'];
}

export function setRecordingChip(chip, status) {
  const [text, kind] = recordingText(status);
  chip.textContent = text;
  chip.className = `chip ${kind}`;
}

/**
 * The recording bar of one host (or of all hosts when host is null); `changed`
 * runs after an action took effect.
 */
export function recordingBar(host, changed) {
  const scope = host === null ? 'all hosts' : host;
  const chip = el('span', {
    class: 'chip',
    id: host === null ? 'recording-all' : 'recording-host',
  });
  const act = (action) =>
    guard(async () => {
      if (action === 'reset' && !confirm(`Wipe the history of ${scope}? This cannot be undone.`))
        return;
      const params = new URLSearchParams();
      if (host !== null) params.set('host', host);
      if (action === 'reset') params.set('confirm', 'yes');
      const status = await post(`api/v1/recording/${action}?${params}`);
      setRecordingChip(chip, status);
      await changed?.(action);
    });
  const suffix = host === null ? 'all' : 'host';
  const bar = el(
    'section',
    { class: 'recording', 'aria-label': `recording of ${scope}` },
    el('span', {}, 'Recording of ', el('strong', { text: scope }), ': ', chip),
    el('span', { class: 'spacer' }),
    el(
      'div',
      { class: 'group' },
      el('button', { type: 'button', id: `pause-${suffix}`, onclick: act('pause') }, 'Pause'),
      el('button', { type: 'button', id: `resume-${suffix}`, onclick: act('resume') }, 'Resume'),
      el(
        'button',
        { type: 'button', id: `reset-${suffix}`, class: 'danger', onclick: act('reset') },
        'Reset…',
      ),
    ),
  );
  return { bar, chip };
}
