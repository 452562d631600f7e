import subprocess,sys,glob,os,itertools
objs=sys.argv[1:]
defs={};undefs={}
for o in objs:
    out=subprocess.run(['nm',o],capture_output=True,text=True).stdout
    d=set();u=set()
    for l in out.splitlines():
        p=l.split()
        if len(p)==3 and p[1] in 'TDBRtdbr' and p[1].isupper(): d.add(p[2])
        elif len(p)==2 and p[0]=='U': u.add(p[1])
    defs[o]=d;undefs[o]=u
owner={}
for o,d in defs.items():
    for s in d: owner[s]=o
edges={o:set() for o in objs}
for o,u in undefs.items():
    for s in u:
        if s in owner and owner[s]!=o: edges[o].add(owner[s])
# find cycles via SCC
idx={};low={};st=[];on=set();res=[];c=[0]
sys.setrecursionlimit(10000)
def sc(v):
    idx[v]=low[v]=c[0];c[0]+=1;st.append(v);on.add(v)
    for w in edges[v]:
        if w not in idx: sc(w);low[v]=min(low[v],low[w])
        elif w in on: low[v]=min(low[v],idx[w])
    if low[v]==idx[v]:
        comp=[]
        while True:
            w=st.pop();on.discard(w);comp.append(w)
            if w==v:break
        if len(comp)>1: res.append(comp)
for v in objs:
    if v not in idx: sc(v)
for r in res: print("LOOP:", [os.path.basename(x) for x in r])
print("files:",len(objs),"loops:",len(res))
