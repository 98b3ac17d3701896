import { exactSearch, MetricKind } from 'usearch';
const dim=384, n=100000;
const data=new Float32Array(n*dim); for(let i=0;i<data.length;i++) data[i]=Math.random()-0.5;
const q=new Float32Array(dim); for(let i=0;i<dim;i++) q[i]=Math.random()-0.5;
const i8=new Int8Array(n*dim); for(let i=0;i<data.length;i++) i8[i]=Math.round(data[i]*200);
const qi8=new Int8Array(dim); for(let i=0;i<dim;i++) qi8[i]=Math.round(q[i]*200);
const run=(name, f)=>{ const ts=[]; for(let r=0;r<30;r++){const t0=performance.now(); f(); ts.push(performance.now()-t0);} ts.sort((a,b)=>a-b); console.log(name, ts[15].toFixed(2), ts[29].toFixed(2)); };
run('f32 ip k10', ()=>exactSearch(data,q,dim,10,MetricKind.IP,1));
run('f32 ip k200', ()=>exactSearch(data,q,dim,200,MetricKind.IP,1));
try { run('i8 cos k10', ()=>exactSearch(i8,qi8,dim,10,MetricKind.Cos,1)); } catch(e) { console.log('i8 fail', e.message); }
try { run('i8 ip k10', ()=>exactSearch(i8,qi8,dim,10,MetricKind.IP,1)); } catch(e) { console.log('i8 ip fail', e.message); }
const mask = new Uint8Array(n); for (let i=0;i<n;i++) mask[i] = i%7===0?1:0;
run('mask loop', ()=>{ let c=0; for(let i=0;i<n;i++) if(mask[i]===3) c++; return c; });
