// The status page's HTML shell and style sheet (docs/ui.md), served by routes/ui.ts. The script
// is controller/ui/browser/*.ts compiled to dist/ with the rest; nothing is fetched from
// anywhere but the controller, and no script or style is inline (the Content-Security-Policy).

export const INDEX_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>berth</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/ui/app.css">
<script type="module" src="/ui/js/main.js"></script>
</head>
<body>
<div id="app"><p class="loading">loading…</p></div>
</body>
</html>
`;

/** The policy of every /ui answer: only the controller's own script, styles and API; no inline script, no frames, no forms elsewhere. */
export const UI_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export const APP_CSS = `
:root { --bg:#f6f7f9; --fg:#1c2330; --mute:#667085; --line:#d9dee6;
  --ready:#1f9d55; --running:#d69e2e; --pending:#5a7fb5; --terminating:#8e6bbf; --failed:#d64545; --unknown:#7a4b4b; --cordoned:#b7791f; }
* { box-sizing: border-box; }
html, body { margin:0; height:100%; font:13px/1.35 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color:var(--fg); background:var(--bg); }
#app { height:100%; display:flex; flex-direction:column; }
a { color:inherit; }
header { display:flex; align-items:center; gap:14px; padding:8px 14px; background:#1c2330; color:#fff; }
header a { color:#fff; text-decoration:none; }
header .brand { font-weight:700; font-size:15px; }
header nav { display:flex; gap:10px; }
header nav a { opacity:.85; } header nav a:hover { opacity:1; text-decoration:underline; }
header h1 { font-size:14px; font-weight:600; margin:0 0 0 12px; flex:1; overflow:hidden; text-overflow:ellipsis; white-space:nowrap; }
header .live { font-size:12px; padding:2px 8px; border-radius:10px; background:#444c5c; }
header .live.is-ok { background:var(--ready); } header .live.is-bad { background:var(--failed); }
header .role { font-size:12px; opacity:.8; }
button { font:inherit; padding:4px 10px; border:1px solid var(--line); border-radius:4px; background:#fff; cursor:pointer; }
button:hover { border-color:#98a2b3; } button:disabled { opacity:.5; cursor:default; }
button.danger { background:#c53030; border-color:#c53030; color:#fff; }
button.link { background:none; border:none; color:#fff; text-decoration:underline; }
main { flex:1; min-height:0; display:flex; flex-direction:column; padding:10px 14px; gap:8px; }
h2 { font-size:13px; margin:8px 0 2px; }
.bar { display:flex; gap:12px; align-items:center; flex-wrap:wrap; }
.summary { display:flex; gap:8px; flex-wrap:wrap; }
.summary span, .chip { padding:2px 8px; border-radius:10px; color:#fff; text-decoration:none; font-size:12px; }
.sets { display:flex; gap:6px; flex-wrap:wrap; max-height:62px; overflow:auto; }
.toggles { display:flex; gap:10px; color:var(--mute); }
.st-ready { background:var(--ready); color:#fff; } .st-running { background:var(--running); color:#fff; }
.st-pending { background:var(--pending); color:#fff; } .st-terminating { background:var(--terminating); color:#fff; }
.st-failed, .st-notready, .st-forgotten { background:var(--failed); color:#fff; } .st-unknown { background:var(--unknown); color:#fff; }
.st-succeeded { background:#98a2b3; color:#fff; } .st-cordoned { background:var(--cordoned); color:#fff; } .st-unscheduled { background:#475467; color:#fff; }
.grid { flex:1; min-height:0; overflow:auto; position:relative; background:#fff; border:1px solid var(--line); border-radius:4px; }
.gsizer { position:relative; } .glayer { position:absolute; inset:0; }
.ghead, .gcell { position:absolute; left:2px; top:0; border-radius:3px; overflow:hidden; text-decoration:none; }
.ghead { z-index:2; padding:4px 6px; display:flex; flex-direction:column; justify-content:center; box-shadow:0 1px 0 #fff; }
.ghead b { white-space:nowrap; overflow:hidden; text-overflow:ellipsis; } .ghead span { font-size:11px; opacity:.9; white-space:nowrap; }
.gcell { padding:3px 6px; display:flex; gap:6px; align-items:center; white-space:nowrap; font-size:12px; }
.gcell span { overflow:hidden; text-overflow:ellipsis; } .gcell small { opacity:.85; overflow:hidden; text-overflow:ellipsis; }
.vlist { flex:1; min-height:120px; overflow:auto; position:relative; background:#fff; border:1px solid var(--line); border-radius:4px; }
.vsizer { position:relative; } .vrows { position:absolute; inset:0; }
.vrow { position:absolute; left:0; right:0; top:0; }
.tr { display:flex; align-items:center; gap:10px; padding:0 10px; border-bottom:1px solid #eef0f3; white-space:nowrap; }
.tr.th { font-weight:600; color:var(--mute); border:none; }
.tr > span, .tr > a { overflow:hidden; text-overflow:ellipsis; }
.dot { width:10px; height:10px; border-radius:50%; flex:none; }
.c-name { width:180px; } .c-ord { width:56px; } .c-rev { width:150px; } .c-ready { width:150px; } .c-num { width:60px; }
.c-node { width:160px; } .c-vol { width:200px; } .c-age { width:60px; } .actions { display:flex; gap:6px; }
.setinfo .facts, .nodeinfo dl { display:flex; gap:16px; flex-wrap:wrap; color:var(--mute); margin:0; }
.progress { position:relative; height:14px; background:#e4e7ec; border-radius:7px; overflow:hidden; margin:8px 0; }
.progress .p-done { position:absolute; left:0; top:0; bottom:0; background:var(--ready); }
.progress .p-partition { position:absolute; top:0; bottom:0; width:2px; background:#1c2330; }
.events-small { max-height:30vh; overflow:auto; background:#fff; border:1px solid var(--line); border-radius:4px; }
.ev { display:flex; gap:10px; padding:4px 10px; border-bottom:1px solid #eef0f3; white-space:nowrap; align-items:center; }
.ev-Warning .c-type { color:var(--failed); font-weight:600; }
.c-type { width:64px; } .c-reason { width:160px; } .c-obj { width:200px; overflow:hidden; text-overflow:ellipsis; } .c-msg { flex:1; overflow:hidden; text-overflow:ellipsis; }
.nodestate { display:inline-block; padding:3px 10px; border-radius:10px; font-weight:600; }
.nodeinfo dl { display:grid; grid-template-columns:max-content 1fr max-content 1fr; gap:4px 12px; margin:8px 0; }
.nodeinfo dt { color:var(--mute); } .nodeinfo dd { margin:0; }
table.conditions { border-collapse:collapse; background:#fff; margin:6px 0; }
table.conditions td, table.conditions th { border:1px solid var(--line); padding:3px 8px; text-align:left; }
table.conditions tr.bad td:nth-child(2) { color:var(--failed); font-weight:600; } table.conditions tr.ok td:nth-child(2) { color:var(--ready); font-weight:600; }
.login { margin:12vh auto; width:340px; display:flex; flex-direction:column; gap:8px; background:#fff; padding:24px; border:1px solid var(--line); border-radius:6px; }
.login h1 { margin:0 0 8px; } .login input { padding:6px; font:inherit; }
.error { color:var(--failed); } .ok { color:var(--ready); } .hint { color:var(--mute); font-size:12px; }
dialog { border:1px solid var(--line); border-radius:6px; min-width:380px; }
dialog form { display:flex; flex-direction:column; gap:8px; } dialog h2 { margin:0; }
dialog label { display:flex; flex-direction:column; gap:4px; } dialog label.radio { flex-direction:row; align-items:center; }
dialog .buttons { display:flex; justify-content:flex-end; gap:8px; }
.count { color:var(--mute); } .loading { padding:20px; color:var(--mute); }
`;
