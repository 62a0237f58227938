/*! agentlytics tracker (MIT), built from tracker/src */
(function(){'use strict';const K=document.currentScript||document.querySelector('script[data-token],script[src*="tracker.js"],script[src*="script.js?key="]');function L(e){return K?K.getAttribute('data-'+e):null}
function j(e){const a=L(e);return a!==null&&a!=='false'&&a!=='0'}
const V=K&&K.src?new URL(K.src,location.href):null;const l={token:L('token')||(V&&V.searchParams.get('key'))||'',api:(L('api')||(V?V.origin:location.origin)).replace(/\/+$/,''),debug:j('debug'),dryRun:/^(localhost|127(\.\d+){3}|\[::1\])$/.test(location.hostname)&&!j('allow-localhost')&&!j('debug'),requireConsent:j('require-consent')};function aI(){}
function aJ(g){if(document.readyState==='loading')document.addEventListener('DOMContentLoaded',g);else g()}
const ak='aa_';const bw=['uid','identified_uid','traits','sc','fv','ft','exp','sid','last_activity','utm'];const bx=['sid','last_activity','utm'];const u={};let aK=false;function al(d){return bx.indexOf(d)>=0?sessionStorage:localStorage}
function am(d,r){try{if(r==null)al(d).removeItem(ak+d);else al(d).setItem(ak+d,r);return true}catch{return false}}
function n(d){if(d in u)return u[d];try{return al(d).getItem(ak+d)}catch{return null}}
function m(d,r,by){r=r==null?null:String(r);if((!aK||by)&&am(d,r))delete u[d];else u[d]=r}
function W(d){try{return JSON.parse(n(d))||null}catch{return null}}
function X(d,r){m(d,r==null?null:JSON.stringify(r))}
function Y(aL){aK=aL;if(!aL)for(const f in u)if(am(f,u[f]))delete u[f]}
function bz(){for(const f of bw){delete u[f];am(f,null)}}
const bA=30*60*1000;const bB=['source','medium','campaign','term','content'];function an(){try{return crypto.randomUUID()}catch{return'10000000-1000-4000-8000-100000000000'.replace(/[018]/g,(v)=>(v^(crypto.getRandomValues(new Uint8Array(1))[0]&(15>>(v/4)))).toString(16))}}
function ao(){let o=n('uid');if(!o){o=an();m('uid',o)}
return o}
function aM(){return n('identified_uid')||ao()}
function bC(){return W('traits')||{}}
function aN(){return!!n('sid')&&Date.now()-(+n('last_activity')||0)<=bA}
function bD(Z){let A=n('sid');if(Z&&A)return A;if(!aN()){A=an();m('sid',A);m('utm',null);m('sc',(+n('sc')||0)+1)}
if(!Z)m('last_activity',Date.now());return A}
function bE(){const bF=new URLSearchParams(location.search);const w={};let ap=false;for(const f of bB){const a=bF.get('utm_'+f);if(a){w['utm_'+f]=a.slice(0,100);ap=true}}
if(ap)X('utm',w);return ap?w:W('utm')||{}}
function bG(w){let aq=+n('fv');if(!aq)m('fv',(aq=Date.now()));let M=W('ft');if(!M)X('ft',(M=Object.assign({referrer:document.referrer},w)));const aO={session_count:+n('sc')||1,days_since_first_visit:Math.floor((Date.now()-aq)/864e5)};for(const f in M)if(M[f])aO['first_'+f]=M[f];return aO}
function ar(x,p){const k=l.api+x;const B=JSON.stringify(p);if(l.debug||l.dryRun)console.log('[aa]',x,p);if(l.dryRun)return;try{if(navigator.sendBeacon(k,new Blob([B],{type:'text/plain'})))return}catch{}
try{fetch(k,{method:'POST',body:B,keepalive:B.length<60000,credentials:'omit',headers:{'Content-Type':'text/plain'}}).catch(aI)}catch{}}
const aP=100;const bH=1000;let N=[];function aQ(){return n('consent')}
function bI(){const v=aQ();Y(v==='denied'||(l.requireConsent&&v!=='granted'))}
function aR(x,p){const v=aQ();if(v==='denied')return;if(l.requireConsent&&v!=='granted'){if(N.length<bH)N.push([x,p]);return}
ar(x,p)}
function bJ(){m('consent','granted',true);Y(false);const as=[];for(const[x,p]of N){if(x==='/track')as.push(p);else ar(x,p)}
N=[];for(let F=0;F<as.length;F+=aP){ar('/track/batch',{token:l.token,events:as.slice(F,F+aP)})}}
function bK(){N=[];bz();Y(true);m('consent','denied',true)}
const at={};const G={off:false};function au(a){return a&&typeof a==='object'&&!Array.isArray(a)}
function bL(h){if(!au(h))return;for(const f in h){if(h[f]==null)delete at[f];else at[f]=h[f]}}
function i(aS,h,Z){if(G.off||!aS)return;const A=bD(Z);const w=bE();const bM=Object.assign({url:location.href,path:location.pathname,title:document.title,referrer:document.referrer,language:navigator.language||'',screen:screen.width+'x'+screen.height,timezone:Intl.DateTimeFormat().resolvedOptions().timeZone||''},w,bG(w),at,au(h)?h:{});const C=bC();const p={token:l.token,event:String(aS).slice(0,200),properties:bM,user_id:aM(),anonymous_id:ao(),session_id:A,timestamp:Date.now(),id:an()};if(C.email)p.user_email=String(C.email);if(C.name)p.user_name=String(C.name);aR('/track',p)}
function bN(o,av){if(o==null||o==='')return;o=String(o);const aT=n('identified_uid')===o;if(au(av)){const C={};for(const f of['email','name'])if(av[f])C[f]=String(av[f]).slice(0,200);X('traits',C)}else if(!aT)m('traits',null);if(aT)return;m('identified_uid',o);if(!G.off)aR('/identify',{token:l.token,previous_id:ao(),user_id:o})}
function bO(){m('identified_uid',null);m('traits',null)}
const q={key:null,hash:null,url:'',path:'',title:''};const aU=[];const aV=[];function aW(g){aU.push(g)}
function aa(g){aV.push(g)}
function aX(bP){for(const g of bP){try{g()}catch{}}}
function aY(h){return Object.assign({url:q.url,path:q.path,title:q.title},h)}
function ab(e){if(q.key!==null)aX(aU);q.key=location.pathname+location.search;q.hash=location.hash;q.url=location.href;q.path=location.pathname;q.title=document.title;i('page_view',e?{page:String(e)}:null);aX(aV)}
function bQ(aw){return location.pathname+location.search!==q.key||(aw&&location.hash!==q.hash)}
function ax(aw){if(bQ(aw))ab()}
function bR(){for(const aZ of['pushState','replaceState']){const ba=history[aZ];if(typeof ba!=='function')continue;history[aZ]=function(){const bS=ba.apply(this,arguments);setTimeout(()=>ax(false),0);return bS}}
addEventListener('popstate',()=>ax(true));addEventListener('hashchange',()=>ax(true));addEventListener('pageshow',(b)=>{if(b.persisted)ab()});const bb=()=>aJ(()=>{if(q.key===null)ab()});if(document.prerendering)document.addEventListener('prerenderingchange',bb,{once:true});else bb()}
const bT=/\.(pdf|docx?|xlsx?|pptx?|od[tsp]|csv|txt|rtf|zip|rar|7z|t?gz|bz2|xz|tar|dmg|pkg|exe|msi|deb|rpm|apk|iso|mp[34]|wav|mov|avi|mkv|webm|epub)$/i;const bU=5;const bV=j('track-outgoing');const bW=j('track-downloads');const bX=j('track-clicks');const bY=(L('link-domains')||'').toLowerCase().split(',').map((y)=>y.trim());function O(c){return(c.innerText||c.textContent||c.value||'').trim().replace(/\s+/g,' ').slice(0,200)}
function bc(c,bd,h){for(const H of c.attributes){if(H.name.indexOf(bd)===0)h[H.name.slice(bd.length)]=H.value}
return h}
function bZ(P){P=P.toLowerCase();if(P===location.hostname.toLowerCase())return true;for(const y of bY)if(y&&(P===y||P.endsWith('.'+y)))return true;return false}
function ca(b){const Q=b.target;if(!Q||!Q.closest)return;const ac=Q.closest('[data-aa-event]');if(ac){const e=ac.getAttribute('data-aa-event');if(e)i(e,bc(ac,'data-aa-event-',{}))}
const R=Q.closest('a[href]');let k=null;if(R){try{k=new URL(R.href,location.href)}catch{k=null}}
const be=k&&/^https?:$/.test(k.protocol);if(bV&&be&&!bZ(k.hostname)){i('outgoing_link',{href:k.href,host:k.hostname,text:O(R)})}
if(bW&&k&&(R.hasAttribute('download')||(be&&bT.test(k.pathname)))){const ay=k.pathname.split('/').pop();const cb=ay.indexOf('.')>0?ay.split('.').pop().toLowerCase():'';i('$download',{href:k.href,filename:R.getAttribute('download')||ay,extension:cb})}
if(bX&&!ac){const c=Q.closest('a,button,[role=button],input[type=submit],input[type=button]');if(c){i('$click',{tag:c.tagName.toLowerCase(),text:O(c),id:c.id||'',href:c.tagName==='A'?c.href:''})}}}
function cc(b){const S=b.target;if(!(S instanceof HTMLFormElement))return;i('$form_submit',{id:S.getAttribute('id')||'',name:S.getAttribute('name')||'',action:(S.getAttribute('action')||'').slice(0,500),method:(S.getAttribute('method')||'get').toLowerCase()})}
function cd(){let T={};let az=0;const bf=(ad,bg,bh,ce)=>{ad=String(ad||'').slice(0,500);const d=ad+bg+bh;if(az>=bU||T[d])return;T[d]=1;az++;i('$error',{message:ad,source:bg||'',line:bh||0,col:ce||0})};addEventListener('error',(b)=>{if(b.message)bf(b.message,b.filename,b.lineno,b.colno)});addEventListener('unhandledrejection',(b)=>{const D=b.reason;bf(D&&D.message?D.message:D,'unhandledrejection',0,0)});aa(()=>{T={};az=0})}
function cf(){if(typeof IntersectionObserver!=='function')return;const bi=new IntersectionObserver((cg)=>{for(const bj of cg){if(!bj.isIntersecting)continue;const c=bj.target;bi.unobserve(c);i('$impression',bc(c,'data-aa-impression-',{name:c.getAttribute('data-aa-impression')}))}},{threshold:0.5});const ch=()=>{for(const c of document.querySelectorAll('[data-aa-impression]')){if(c.__aaSeen)continue;c.__aaSeen=1;bi.observe(c)}};aa(()=>setTimeout(ch,0))}
function ci(){document.addEventListener('click',ca,true);if(j('track-forms'))document.addEventListener('submit',cc,true);if(j('track-errors'))cd();cf()}
function bk(g){addEventListener('pagehide',g);document.addEventListener('visibilitychange',()=>{if(document.visibilityState==='hidden')g()})}
function bl(g){if(document.readyState==='complete')setTimeout(g,0);else addEventListener('load',()=>setTimeout(g,0))}
function bm(){return(performance.getEntriesByType&&performance.getEntriesByType('navigation')[0])||{}}
function cj(){bl(()=>{const ae=bm();if(!ae.loadEventEnd)return;const aA=(a)=>Math.max(0,Math.round(a));i('$performance',{ttfb:aA(ae.responseStart),dom_ready:aA(ae.domContentLoadedEventEnd),load:aA(ae.loadEventEnd)},true)})}
function aB(ck,g,cl){try{new PerformanceObserver((z)=>z.getEntries().forEach(g)).observe(Object.assign({type:ck,buffered:true},cl))}catch{}}
function cm(){const a={};let I=false;aB('largest-contentful-paint',(b)=>(a.lcp=Math.round(b.startTime)));aB('layout-shift',(b)=>{if(!b.hadRecentInput)a.cls=(a.cls||0)+b.value});aB('event',(b)=>{if(b.interactionId)a.inp=Math.max(a.inp||0,Math.round(b.duration))},{durationThreshold:40});const U=()=>{if(I||!Object.keys(a).length)return;I=true;if(a.cls!=null)a.cls=Math.round(a.cls*1000)/1000;i('$web_vitals',aY(a),true)};aW(U);bk(U)}
function cn(){let af=0;let I=false;let aC=false;const aD=()=>{aC=false;const y=document.documentElement;const bn=Math.max(y.scrollHeight,document.body?document.body.scrollHeight:0);const T=(window.scrollY||y.scrollTop||0)+window.innerHeight;const bo=bn>0?Math.min(100,Math.round((T/bn)*100)):100;if(bo>af)af=bo};const co=()=>{if(!aC){aC=true;requestAnimationFrame(aD)}};const U=()=>{if(I)return;I=true;i('$scroll_depth',aY({scroll_depth:Math.floor(af/25)*25}),true)};addEventListener('scroll',co,{passive:true});bl(aD);aa(()=>{af=0;I=false;setTimeout(aD,0)});aW(U);bk(U)}
function cp(ag){ag=Math.max(15,ag);setInterval(()=>{if(document.visibilityState==='visible'&&aN())i('$heartbeat',{seconds:ag},true)},ag*1000)}
function cq(ah){if(document.querySelector('meta[name="aa-404"]')||/\b404\b|not found/i.test(document.title))return true;return ah&&bm().responseStatus===404}
function cr(){let ah=true;aa(()=>{const cs=ah;ah=false;setTimeout(()=>{if(cq(cs))i('$404')},50)})}
function ct(){const bp=parseInt(L('heartbeat'),10);if(j('track-performance'))cj();if(j('track-vitals'))cm();if(j('track-scroll-depth'))cn();if(bp>0)cp(bp);if(j('track-404'))cr()}
function cu(cv){let ai=2166136261;for(const cw of new TextEncoder().encode(cv)){ai^=cw;ai=Math.imul(ai,16777619)}
return ai>>>0}
function cx(J,aE){return cu(J+':'+aE)%100}
function cy(aF){const bq=Math.floor(100/aF.length);return aF.map((d,F)=>({key:String(d),weight:bq+(F?0:100-bq*aF.length)}))}
function cz(J,aE,E){const cA=cx(J,aE);let br=0;for(const a of E){br+=Number(a.weight)||0;if(br>cA)return a.key}
return E.length?E[0].key:null}
const aG={};let aH=null;function cB(e){const z=aH||W('exp')||[];for(const b of z){if(b&&b.key===e&&b.variants&&b.variants.length){return b.variants.map((a)=>({key:String(a.key),weight:+a.weight}))}}
return null}
function J(e,E){if(!e)return null;e=String(e);if(e in aG)return aG[e];const z=cB(e)||(Array.isArray(E)&&E.length?cy(E):[]);const aj=new URLSearchParams(location.search).get('aa_variant_'+e);let s=null;if(aj&&(!z.length||z.some((a)=>a.key===aj)))s=aj;else if(z.length)s=cz(e,aM(),z);if(s===null)return null;aG[e]=s;const h={experiment:e,variant:s};if(s===aj)h.forced=true;i('$experiment_exposure',h);return s}
function cC(){for(const c of document.querySelectorAll('[data-aa-experiment]')){const bs=['control'];for(const H of c.attributes)if(H.name.indexOf('data-aa-variant-')===0)bs.push(H.name.slice(16));const s=J(c.getAttribute('data-aa-experiment'),bs);const O=s?c.getAttribute('data-aa-variant-'+s.toLowerCase()):null;if(O!==null)c.textContent=O}
document.documentElement.classList.remove('aa-loading')}
function bt(){const bu=()=>aJ(cC);if(G.off||!l.token)return bu();fetch(l.api+'/experiments/config?token='+encodeURIComponent(l.token),{credentials:'omit'}).then((D)=>(D.ok?D.json():null)).then((B)=>{if(B&&Array.isArray(B.experiments)){aH=B.experiments;X('exp',aH)}}).catch(aI).then(bu)}
function t(g){return function(){try{return g.apply(null,arguments)}catch(b){if(l.debug)console.warn('[aa]',b)}}}
function cD(){return navigator.doNotTrack==='1'||window.doNotTrack==='1'||navigator.globalPrivacyControl===true}
function cE(){G.off=(j('do-not-track')&&cD())||n('disabled')==='true';bI();if(G.off)Y(true);const bv={track:t(i),identify:t(bN)};window.aa=Object.assign({page:t(ab),set:t(bL),experiment:t(J),grantConsent:t(bJ),revokeConsent:t(bK)},bv);window.convalytics=Object.assign({reset:t(bO)},bv);if(G.off)return bt();ci();ct();bR();bt()}
if(!window.aa||!window.aa.grantConsent)t(cE)()})();
