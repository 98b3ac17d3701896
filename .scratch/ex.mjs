import { exactSearch, MetricKind } from 'usearch';
const dim=384, n=100000;
const data=new Float32Array(n*dim); for(let i=0;i<data.length;i++) data[i]=Math.random()-0.5;
const q=new Float32Array(dim); for(let i=0;i<dim;i++) q[i]=Math.random()-0.5;
for (const t of [1]) { let ts=[]; for(let r=0;r<20;r++){const t0=performance.now(); exactSearch(data,q,dim,10,MetricKind.IP,t); ts.push(performance.now()-t0);} ts.sort((a,b)=>a-b); console.log('usearch exact IP threads',t, ts[10].toFixed(2), ts[19].toFixed(2)); }
{ let ts=[]; for(let r=0;r<20;r++){const t0=performance.now(); exactSearch(data,q,dim,10,MetricKind.Cos,1); ts.push(performance.now()-t0);} ts.sort((a,b)=>a-b); console.log('cos', ts[10].toFixed(2), ts[19].toFixed(2)); }
{ let ts=[]; const sc=new Float32Array(n); for(let r=0;r<20;r++){const t0=performance.now(); for(let i=0;i<n;i++){let s=0;const o=i*dim;for(let j=0;j<dim;j++) s+=data[o+j]*q[j]; sc[i]=s;} ts.push(performance.now()-t0);} ts.sort((a,b)=>a-b); console.log('js', ts[10].toFixed(2), ts[19].toFixed(2)); }
