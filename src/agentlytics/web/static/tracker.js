/*! agentlytics tracker (MIT), built from tracker/src */
(function(){'use strict';const K=document.currentScript||document.querySelector('script[data-token],script[src*="tracker.js"],script[src*="script.js?key="]');function L(e){return K?K.getAttribute('data-'+e):null}
function j(e){const a=L(e);return a!==null&&a!=='false'&&a!=='0'}
const V=K&&K.src?new URL(K.src,location.href):null;const l={token:L('token')||(V&&V.searchParams.get('key'))||'',api:(L('api')||(V?V.origin:location.origin)).replace(/\/+$/,''),debug:j('debug'),dryRun:/^(localhost|127(\.\d+){3}|\[::1\])$/.test(location.hostname)&&!j('allow-localhost')&&!j('debug'),requireConsent:j('require-consent')};function aI(){}
function aJ(g){if(document.readyState==='loading')document.addEventListener('DOMContentLoaded',g);else g()}
const ak='aa_';const bv=['uid','identified_uid','traits','sc','fv','ft','exp','sid','last_activity','utm'];const bw=['sid','last_activity','utm'];const u={};let aK=false;function al(d){return bw.indexOf(d)>=0?sessionStorage:localStorage}
function am(d,r){try{if(r==null)al(d).removeItem(ak+d);else al(d).setItem(ak+d,r);return true}catch{return false}}
function m(d){if(d in u)return u[d];try{return al(d).getItem(ak+d)}catch{return null}}
function n(d,r,bx){r=r==null?null:String(r);if((!aK||bx)&&am(d,r))delete u[d];else u[d]=r}
function W(d){try{return JSON.parse(m(d))||null}catch{return null}}
function X(d,r){n(d,r==null?null:JSON.stringify(r))}
function Y(aL){aK=aL;if(!aL)for(const f in u)if(am(f,u[f]))delete u[f]}
function by(){for(const f of bv){delete u[f];am(f,null)}}
const bz=30*60*1000;const bA=['source','medium','campaign','term','content'];function an(){try{return crypto.randomUUID()}catch{return'10000000-1000-4000-8000-100000000000'.replace(/[018]/g,(v)=>(v^(crypto.getRandomValues(new Uint8Array(1))[0]&(15>>(v/4)))).toString(16))}}
function ao(){let o=m('uid');if(!o){o=an();n('uid',o)}
return o}
function aM(){return m('identified_uid')||ao()}
function bB(){return W('traits')||{}}
function aN(){return!!m('sid')&&Date.now()-(+m('last_activity')||0)<=bz}
function bC(Z){let A=m('sid');if(Z&&A)return A;if(!aN()){A=an();n('sid',A);n('utm',null);n('sc',(+m('sc')||0)+1)}
if(!Z)n('last_activity',Date.now());return A}
function bD(){const bE=new URLSearchParams(location.search);const w={};let ap=false;for(const f of bA){const a=bE.get('utm_'+f);if(a){w['utm_'+f]=a.slice(0,100);ap=true}}
if(ap)X('utm',w);return ap?w:W('utm')||{}}
function bF(w){let aq=+m('fv');if(!aq)n('fv',(aq=Date.now()));let M=W('ft');if(!M)X('ft',(M=Object.assign({referrer:document.referrer},w)));const aO={session_count:+m('sc')||1,days_since_first_visit:Math.floor((Date.now()-aq)/864e5)};for(const f in M)if(M[f])aO['first_'+f]=M[f];return aO}
function ar(x,p){const k=l.api+x;const B=JSON.stringify(p);if(l.debug||l.dryRun)console.log('[aa]',x,p);if(l.dryRun)return;try{if(navigator.sendBeacon(k,new Blob([B],{type:'text/plain'})))return}catch{}
try{fetch(k,{method:'POST',body:B,keepalive:B.length<60000,credentials:'omit',headers:{'Content-Type':'text/plain'}}).catch(aI)}catch{}}
const aP=100;const bG=1000;let N=[];function aQ(){return m('consent')}
function bH(){const v=aQ();Y(v==='denied'||(l.requireConsent&&v!=='granted'))}
function aR(x,p){const v=aQ();if(v==='denied')return;if(l.requireConsent&&v!=='granted'){if(N.length<bG)N.push([x,p]);return}
ar(x,p)}
function bI(){n('consent','granted',true);Y(false);const as=[];for(const[x,p]of N){if(x==='/track')as.push(p);else ar(x,p)}
N=[];for(let F=0;F<as.length;F+=aP){ar('/track/batch',{token:l.token,events:as.slice(F,F+aP)})}}
function bJ(){N=[];by();Y(true);n('consent','denied',true)}
const at={};const G={off:false};function au(a){return a&&typeof a==='object'&&!Array.isArray(a)}
function bK(h){if(!au(h))return;for(const f in h){if(h[f]==null)delete at[f];else at[f]=h[f]}}
function i(aS,h,Z){if(G.off||!aS)return;const A=bC(Z);const w=bD();const bL=Object.assign({url:location.href,path:location.pathname,title:document.title,referrer:document.referrer,language:navigator.language||'',screen:screen.width+'x'+screen.height,timezone:Intl.DateTimeFormat().resolvedOptions().timeZone||''},w,bF(w),at,au(h)?h:{});const C=bB();const p={token:l.token,event:String(aS).slice(0,200),properties:bL,user_id:aM(),anonymous_id:ao(),session_id:A,timestamp:Date.now(),id:an()};if(C.email)p.user_email=String(C.email);if(C.name)p.user_name=String(C.name);aR('/track',p)}
function bM(o,av){if(o==null||o==='')return;o=String(o);if(au(av)){const C={};for(const f of['email','name'])if(av[f])C[f]=String(av[f]).slice(0,200);X('traits',C)}
if(m('identified_uid')===o)return;n('identified_uid',o);if(!G.off)aR('/identify',{token:l.token,previous_id:ao(),user_id:o})}
function bN(){n('identified_uid',null);n('traits',null)}
const q={key:null,hash:null,url:'',path:'',title:''};const aT=[];const aU=[];function aV(g){aT.push(g)}
function aa(g){aU.push(g)}
function aW(bO){for(const g of bO){try{g()}catch{}}}
function aX(h){return Object.assign({url:q.url,path:q.path,title:q.title},h)}
function ab(e){if(q.key!==null)aW(aT);q.key=location.pathname+location.search;q.hash=location.hash;q.url=location.href;q.path=location.pathname;q.title=document.title;i('page_view',e?{page:String(e)}:null);aW(aU)}
function bP(aw){return location.pathname+location.search!==q.key||(aw&&location.hash!==q.hash)}
function ax(aw){if(bP(aw))ab()}
function bQ(){for(const aY of['pushState','replaceState']){const aZ=history[aY];if(typeof aZ!=='function')continue;history[aY]=function(){const bR=aZ.apply(this,arguments);setTimeout(()=>ax(false),0);return bR}}
addEventListener('popstate',()=>ax(true));addEventListener('hashchange',()=>ax(true));addEventListener('pageshow',(b)=>{if(b.persisted)ab()});const ba=()=>aJ(()=>{if(q.key===null)ab()});if(document.prerendering)document.addEventListener('prerenderingchange',ba,{once:true});else ba()}
const bS=/\.(pdf|docx?|xlsx?|pptx?|od[tsp]|csv|txt|rtf|zip|rar|7z|t?gz|bz2|xz|tar|dmg|pkg|exe|msi|deb|rpm|apk|iso|mp[34]|wav|mov|avi|mkv|webm|epub)$/i;const bT=5;const bU=j('track-outgoing');const bV=j('track-downloads');const bW=j('track-clicks');const bX=(L('link-domains')||'').toLowerCase().split(',').map((y)=>y.trim());function O(c){return(c.innerText||c.textContent||c.value||'').trim().replace(/\s+/g,' ').slice(0,200)}
function bb(c,bc,h){for(const H of c.attributes){if(H.name.indexOf(bc)===0)h[H.name.slice(bc.length)]=H.value}
return h}
function bY(P){P=P.toLowerCase();if(P===location.hostname.toLowerCase())return true;for(const y of bX)if(y&&(P===y||P.endsWith('.'+y)))return true;return false}
function bZ(b){const Q=b.target;if(!Q||!Q.closest)return;const ac=Q.closest('[data-aa-event]');if(ac){const e=ac.getAttribute('data-aa-event');if(e)i(e,bb(ac,'data-aa-event-',{}))}
const R=Q.closest('a[href]');let k=null;if(R){try{k=new URL(R.href,location.href)}catch{k=null}}
const bd=k&&/^https?:$/.test(k.protocol);if(bU&&bd&&!bY(k.hostname)){i('outgoing_link',{href:k.href,host:k.hostname,text:O(R)})}
if(bV&&k&&(R.hasAttribute('download')||(bd&&bS.test(k.pathname)))){const ay=k.pathname.split('/').pop();const ca=ay.indexOf('.')>0?ay.split('.').pop().toLowerCase():'';i('$download',{href:k.href,filename:R.getAttribute('download')||ay,extension:ca})}
if(bW&&!ac){const c=Q.closest('a,button,[role=button],input[type=submit],input[type=button]');if(c){i('$click',{tag:c.tagName.toLowerCase(),text:O(c),id:c.id||'',href:c.tagName==='A'?c.href:''})}}}
function cb(b){const S=b.target;if(!(S instanceof HTMLFormElement))return;i('$form_submit',{id:S.getAttribute('id')||'',name:S.getAttribute('name')||'',action:(S.getAttribute('action')||'').slice(0,500),method:(S.getAttribute('method')||'get').toLowerCase()})}
function cc(){let T={};let az=0;const be=(ad,bf,bg,cd)=>{ad=String(ad||'').slice(0,500);const d=ad+bf+bg;if(az>=bT||T[d])return;T[d]=1;az++;i('$error',{message:ad,source:bf||'',line:bg||0,col:cd||0})};addEventListener('error',(b)=>{if(b.message)be(b.message,b.filename,b.lineno,b.colno)});addEventListener('unhandledrejection',(b)=>{const D=b.reason;be(D&&D.message?D.message:D,'unhandledrejection',0,0)});aa(()=>{T={};az=0})}
function ce(){if(typeof IntersectionObserver!=='function')return;const bh=new IntersectionObserver((cf)=>{for(const bi of cf){if(!bi.isIntersecting)continue;const c=bi.target;bh.unobserve(c);i('$impression',bb(c,'data-aa-impression-',{name:c.getAttribute('data-aa-impression')}))}},{threshold:0.5});const cg=()=>{for(const c of document.querySelectorAll('[data-aa-impression]')){if(c.__aaSeen)continue;c.__aaSeen=1;bh.observe(c)}};aa(()=>setTimeout(cg,0))}
function ch(){document.addEventListener('click',bZ,true);if(j('track-forms'))document.addEventListener('submit',cb,true);if(j('track-errors'))cc();ce()}
function bj(g){addEventListener('pagehide',g);document.addEventListener('visibilitychange',()=>{if(document.visibilityState==='hidden')g()})}
function bk(g){if(document.readyState==='complete')setTimeout(g,0);else addEventListener('load',()=>setTimeout(g,0))}
function bl(){return(performance.getEntriesByType&&performance.getEntriesByType('navigation')[0])||{}}
function ci(){bk(()=>{const ae=bl();if(!ae.loadEventEnd)return;const aA=(a)=>Math.max(0,Math.round(a));i('$performance',{ttfb:aA(ae.responseStart),dom_ready:aA(ae.domContentLoadedEventEnd),load:aA(ae.loadEventEnd)},true)})}
function aB(cj,g,ck){try{new PerformanceObserver((z)=>z.getEntries().forEach(g)).observe(Object.assign({type:cj,buffered:true},ck))}catch{}}
function cl(){const a={};let I=false;aB('largest-contentful-paint',(b)=>(a.lcp=Math.round(b.startTime)));aB('layout-shift',(b)=>{if(!b.hadRecentInput)a.cls=(a.cls||0)+b.value});aB('event',(b)=>{if(b.interactionId)a.inp=Math.max(a.inp||0,Math.round(b.duration))},{durationThreshold:40});const U=()=>{if(I||!Object.keys(a).length)return;I=true;if(a.cls!=null)a.cls=Math.round(a.cls*1000)/1000;i('$web_vitals',aX(a),true)};aV(U);bj(U)}
function cm(){let af=0;let I=false;let aC=false;const aD=()=>{aC=false;const y=document.documentElement;const bm=Math.max(y.scrollHeight,document.body?document.body.scrollHeight:0);const T=(window.scrollY||y.scrollTop||0)+window.innerHeight;const bn=bm>0?Math.min(100,Math.round((T/bm)*100)):100;if(bn>af)af=bn};const cn=()=>{if(!aC){aC=true;requestAnimationFrame(aD)}};const U=()=>{if(I)return;I=true;i('$scroll_depth',aX({scroll_depth:Math.floor(af/25)*25}),true)};addEventListener('scroll',cn,{passive:true});bk(aD);aa(()=>{af=0;I=false;setTimeout(aD,0)});aV(U);bj(U)}
function co(ag){ag=Math.max(15,ag);setInterval(()=>{if(document.visibilityState==='visible'&&aN())i('$heartbeat',{seconds:ag},true)},ag*1000)}
function cp(ah){if(document.querySelector('meta[name="aa-404"]')||/\b404\b|not found/i.test(document.title))return true;return ah&&bl().responseStatus===404}
function cq(){let ah=true;aa(()=>{const cr=ah;ah=false;setTimeout(()=>{if(cp(cr))i('$404')},50)})}
function cs(){const bo=parseInt(L('heartbeat'),10);if(j('track-performance'))ci();if(j('track-vitals'))cl();if(j('track-scroll-depth'))cm();if(bo>0)co(bo);if(j('track-404'))cq()}
function ct(cu){let ai=2166136261;for(const cv of new TextEncoder().encode(cu)){ai^=cv;ai=Math.imul(ai,16777619)}
return ai>>>0}
function cw(J,aE){return ct(J+':'+aE)%100}
function cx(aF){const bp=Math.floor(100/aF.length);return aF.map((d,F)=>({key:String(d),weight:bp+(F?0:100-bp*aF.length)}))}
function cy(J,aE,E){const cz=cw(J,aE);let bq=0;for(const a of E){bq+=Number(a.weight)||0;if(bq>cz)return a.key}
return E.length?E[0].key:null}
const aG={};let aH=null;function cA(e){const z=aH||W('exp')||[];for(const b of z){if(b&&b.key===e&&b.variants&&b.variants.length){return b.variants.map((a)=>({key:String(a.key),weight:+a.weight}))}}
return null}
function J(e,E){if(!e)return null;e=String(e);if(e in aG)return aG[e];const z=cA(e)||(Array.isArray(E)&&E.length?cx(E):[]);const aj=new URLSearchParams(location.search).get('aa_variant_'+e);let s=null;if(aj&&(!z.length||z.some((a)=>a.key===aj)))s=aj;else if(z.length)s=cy(e,aM(),z);if(s===null)return null;aG[e]=s;const h={experiment:e,variant:s};if(s===aj)h.forced=true;i('$experiment_exposure',h);return s}
function cB(){for(const c of document.querySelectorAll('[data-aa-experiment]')){const br=['control'];for(const H of c.attributes)if(H.name.indexOf('data-aa-variant-')===0)br.push(H.name.slice(16));const s=J(c.getAttribute('data-aa-experiment'),br);const O=s?c.getAttribute('data-aa-variant-'+s.toLowerCase()):null;if(O!==null)c.textContent=O}
document.documentElement.classList.remove('aa-loading')}
function bs(){const bt=()=>aJ(cB);if(G.off||!l.token)return bt();fetch(l.api+'/experiments/config?token='+encodeURIComponent(l.token),{credentials:'omit'}).then((D)=>(D.ok?D.json():null)).then((B)=>{if(B&&Array.isArray(B.experiments)){aH=B.experiments;X('exp',aH)}}).catch(aI).then(bt)}
function t(g){return function(){try{return g.apply(null,arguments)}catch(b){if(l.debug)console.warn('[aa]',b)}}}
function cC(){return navigator.doNotTrack==='1'||window.doNotTrack==='1'||navigator.globalPrivacyControl===true}
function cD(){G.off=(j('do-not-track')&&cC())||m('disabled')==='true';bH();if(G.off)Y(true);const bu={track:t(i),identify:t(bM)};window.aa=Object.assign({page:t(ab),set:t(bK),experiment:t(J),grantConsent:t(bI),revokeConsent:t(bJ)},bu);window.convalytics=Object.assign({reset:t(bN)},bu);if(G.off)return bs();ch();cs();bQ();bs()}
if(!window.aa||!window.aa.grantConsent)t(cD)()})();
