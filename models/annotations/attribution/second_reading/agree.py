"""Agreement between the first reading (../sources/<src>/quotes.jsonl) and the second
(<src>_passb.tsv): same speaker leniently (same head word; "A and B" in any order).
usage: python3 agree.py wikinews press usgov (from this folder)
       python3 agree.py --set dev wikinews3a wikinews3b wikinews3c   (../dev/<src>/quotes.jsonl
       against dev/<src>_passb.tsv; likewise --set blind2)"""
import json, csv, sys, re
def head(n):
    w=[x for x in re.split(r"[^\w'’.-]+", n.lower()) if x]
    w=[x for x in w if x not in ('the','and','jr','sr')]
    return w[-1] if w else ''
def same(a,b):
    a1,b1=a.lower().strip(),b.lower().strip()
    if a1==b1: return True
    if ' and ' in a1 or ' and ' in b1:
        return set(map(head,a1.split(' and ')))==set(map(head,b1.split(' and ')))
    ha,hb=head(a),head(b)
    return ha==hb or ha in b1.split() or hb in a1.split()
tot=agree=kagree=0; dis=[]
args=sys.argv[1:]
first, second = "../sources", "."
if args[:1]==["--set"]:
    first, second = f"../{args[1]}", args[1]
    args=args[2:]
for src in args:
    A=[json.loads(l) for l in open(f"{first}/{src}/quotes.jsonl") if l.strip()]
    B=list(csv.DictReader(open(f"{second}/{src}_passb.tsv"),delimiter='\t'))
    assert len(A)==len(B), (src,len(A),len(B))
    for a,b in zip(A,B):
        assert f"{a['doc_id']}-{a['n']}"==b['item']
        tot+=1; s=same(a['speaker'],b['speaker']); agree+=s; kagree+= a['speaker_kind']==b['speaker_kind']
        if not s: dis.append(b['item'])
print(f"items {tot}; speaker agreement {agree}/{tot} = {agree/tot:.3f}; kind agreement {kagree/tot:.3f}; disagreements: {len(dis)}")
print('disagreements:', ' '.join(dis))
