// Friends: make an invite (code and QR), accept one, grants and usage as bars, health, and removing
// a friend with what it means both ways spelled out before anything happens.
import { useEffect, useState } from 'preact/hooks';
import QRCode from 'qrcode';
import type { InviteResult, PeerListing } from '../../../protocol/api.js';
import { ROUTES, type FriendRemoveResult } from '../../../protocol/console-api.js';
import { api, op } from '../api.js';
import { bytes, percent, reachInWords, when } from '../format.js';
import { html } from '../html.js';
import { useLoad } from '../use-load.js';

const GIB = 1024 ** 3;

function Invite() {
  const [quota, setQuota] = useState('10');
  const [invite, setInvite] = useState<InviteResult | null>(null);
  const [qr, setQr] = useState('');
  const [error, setError] = useState('');
  useEffect(() => {
    if (invite) QRCode.toDataURL(invite.code, { margin: 1, width: 220 }).then(setQr, () => setQr(''));
  }, [invite]);
  const make = async () => {
    setError('');
    try {
      setInvite(await op('invite', { quotaBytes: Math.round(Number(quota) * GIB), expiresInMs: 24 * 3600_000 }));
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return html`<section>
    <h2>Invite a friend</h2>
    <div class="row">
      <label
        >Space you offer them (GiB)
        <input name="quota" size="5" value=${quota} onInput=${(e: Event) => setQuota((e.target as HTMLInputElement).value)} /></label
      ><button class="primary make-invite" onClick=${make}>Create invite</button>
    </div>
    ${error && html`<p class="error">${error}</p>`}
    ${
      invite &&
      html`<div class="row">
        ${qr && html`<img class="qr" alt="invite QR code" src=${qr} />`}
        <div>
          <p>Give your friend this one-time code (valid until ${when(invite.expiresAt)}):</p>
          <p><code class="invite-code">${invite.code}</code></p>
        </div>
      </div>`
    }
  </section>`;
}

function Accept({ onPaired }: { onPaired: () => void }) {
  const [code, setCode] = useState('');
  const [quota, setQuota] = useState('10');
  const [msg, setMsg] = useState('');
  const [error, setError] = useState('');
  const pair = async () => {
    setError('');
    setMsg('');
    try {
      const r = await op('pair', { code: code.trim(), quotaBytes: Math.round(Number(quota) * GIB) });
      setMsg(`Paired with ${r.name}: they offer you ${bytes(r.grantFromPeer)}, you offer them ${bytes(r.grantToPeer)}.`);
      setCode('');
      onPaired();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return html`<section>
    <h2>Accept an invite</h2>
    <div class="row">
      <input name="code" size="60" placeholder="cairn1.…" value=${code} onInput=${(e: Event) => setCode((e.target as HTMLInputElement).value)} />
    </div>
    <div class="row">
      <label
        >Space you offer them (GiB)
        <input name="pair-quota" size="5" value=${quota} onInput=${(e: Event) => setQuota((e.target as HTMLInputElement).value)} /></label
      ><button class="primary pair" onClick=${pair}>Pair</button>
    </div>
    ${msg && html`<p class="paired">${msg}</p>`} ${error && html`<p class="error" role="alert">${error}</p>`}
  </section>`;
}

function Remove({ friend, onDone }: { friend: PeerListing; onDone: () => void }) {
  const [plan, setPlan] = useState<FriendRemoveResult | null>(null);
  const [error, setError] = useState('');
  const ask = (dryRun: boolean) =>
    api<FriendRemoveResult>('POST', ROUTES.friendRemove.path, { peerId: friend.peerId, dryRun }).then(
      (r) => (dryRun ? setPlan(r) : onDone()),
      (err: unknown) => setError((err as Error).message),
    );
  if (!plan) return html`<button class="danger" onClick=${() => ask(true)}>Remove…</button>${error && html`<span class="error">${error}</span>`}`;
  return html`<div class="dialog">
    <p>Removing <strong>${plan.name}</strong>:</p>
    <ul>
      <li>
        your ${plan.ourPacksAtThem} packs (${bytes(plan.ourBytesAtThem)}) at ${plan.name} stop counting as copies; replication makes new copies at your other
        friends. ${plan.name} may keep or delete them; they can never read them.
      </li>
      <li>their ${plan.theirPacksHere} packs (${bytes(plan.theirBytesHere)}) on this disk are deleted now.</li>
    </ul>
    <button class="danger confirm-remove" onClick=${() => ask(false)}>Remove ${plan.name}</button> <button onClick=${() => setPlan(null)}>Cancel</button>
  </div>`;
}

/** What we grant a friend, changed after pairing (the friend is told), and its request for more, granted or refused. */
function Grant({ friend, onDone }: { friend: PeerListing; onDone: () => void }) {
  const [size, setSize] = useState('');
  const [open, setOpen] = useState(false);
  const [error, setError] = useState('');
  const send = async (args: { bytes?: number; refuse?: boolean }) => {
    setError('');
    try {
      await op('grant', { friend: friend.peerId, ...args });
      setOpen(false);
      onDone();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  const ask = friend.askFromPeer;
  return html`<div class="grant">
    ${
      ask &&
      html`<p class="ask">
        ${friend.name} asks for ${bytes(ask.bytes)}${ask.note ? html` (“${ask.note}”)` : ''}
        <button class="primary grant-ask" onClick=${() => send({ bytes: ask.bytes })}>Grant</button>
        <button class="refuse-ask" onClick=${() => send({ refuse: true })}>Refuse</button>
      </p>`
    }
    ${
      open
        ? html`<label
              >Space you offer (GiB) <input name="grant" size="5" value=${size} onInput=${(e: Event) => setSize((e.target as HTMLInputElement).value)} /></label
            ><button class="primary set-grant" onClick=${() => send({ bytes: Math.round(Number(size) * GIB) })}>Set</button>
            <button onClick=${() => setOpen(false)}>Cancel</button>`
        : html`<button class="change-grant" onClick=${() => (setSize(String(friend.grantToPeer / GIB)), setOpen(true))}>Change…</button>`
    }
    ${error && html`<span class="error">${error}</span>`}
  </div>`;
}

export function Friends() {
  const { data: peers, error, reload } = useLoad(() => op('peers'), [], 3000);
  return html`<div>
    <section>
      <h2>Friends</h2>
      ${error && html`<p class="error">${error}</p>`}
      ${peers && peers.length === 0 && html`<p class="muted">No friends yet: invite one, or accept their invite.</p>`}
      ${
        peers &&
        peers.length > 0 &&
        html`<table class="friends">
          <thead>
            <tr>
              <th>Friend</th>
              <th>They hold for you</th>
              <th>You hold for them</th>
              <th>Health</th>
              <th></th>
            </tr>
          </thead>
          <tbody>
            ${peers.map(
              (p) =>
                html`<tr data-peer=${p.peerId}>
                  <td>
                    <span class=${`dot ${p.online ? 'on' : 'off'}`}></span><span class="friend-name">${p.name}</span>
                    <span class="online-state muted">${p.online ? 'online' : `offline, last seen ${when(p.lastSeen)}`}</span>
                    <span class="reach" title="how this host reaches the friend right now">${reachInWords(p)}</span>
                    <span class="reach-why muted" title="why it is reached so">${p.reachWhy}</span>
                  </td>
                  <td>
                    <span class="bar"><span style=${{ width: percent(p.storedAtPeerBytes, p.grantFromPeer) }}></span></span>
                    ${` ${bytes(p.storedAtPeerBytes)} of ${bytes(p.grantFromPeer)}`}
                  </td>
                  <td>
                    <span class="bar"><span style=${{ width: percent(p.storedForPeerBytes, p.grantToPeer) }}></span></span>
                    ${` ${bytes(p.storedForPeerBytes)} of ${bytes(p.grantToPeer)}`}
                    <${Grant} friend=${p} onDone=${reload} />
                  </td>
                  <td>
                    ${p.health}${p.shortfall ? html`<div class="error">${p.shortfall}</div>` : ''}
                    ${p.awaySince ? html`<div class="away">away since ${when(p.awaySince)}: copies count again once they pass a challenge</div>` : ''}
                    ${
                      p.askToPeer
                        ? html`<div class="asked">you asked for ${bytes(p.askToPeer.bytes)}${p.askToPeer.refused ? ': refused' : ': waiting'}</div>`
                        : ''
                    }
                  </td>
                  <td><${Remove} friend=${p} onDone=${reload} /></td>
                </tr>`,
            )}
          </tbody>
        </table>`
      }
    </section>
    <${Invite} />
    <${Accept} onPaired=${reload} />
  </div>`;
}
