# A stdlib-only reader of certhub's status lists, written from the two
# specifications (W3C Bitstring Status List v1.0: GZIP, multibase "u"
# base64url, index 0 the left-most bit; IETF Token Status List: ZLIB,
# base64url, entries from the least significant bits). It follows each
# document's own references to the live hub and reports its statuses. It
# does not check signatures (jose does, in statuslist-check.mjs).
# Input (JSON on stdin): {"documents": [compact JWS, ...]}.
import base64, gzip, json, sys, urllib.request, zlib

def b64(s):
    return base64.urlsafe_b64decode(s + '=' * (-len(s) % 4))

def jwt_payload(jwt):
    return json.loads(b64(jwt.split('.')[1]))

cache = {}
def fetch(url, media):
    if url not in cache:
        with urllib.request.urlopen(url) as r:
            assert r.headers['Content-Type'] == media, r.headers['Content-Type']
            cache[url] = jwt_payload(r.read().decode())
    return cache[url]

out = []
for doc in json.load(sys.stdin)['documents']:
    p = jwt_payload(doc)
    ref = p['status']['status_list']
    tsl = fetch(ref['uri'], 'application/statuslist+jwt')
    sl = tsl['status_list']
    assert sl['bits'] == 2
    raw = zlib.decompress(b64(sl['lst']))
    i = ref['idx']
    r = {'idx': i, 'tsl': (raw[i // 4] >> (2 * (i % 4))) & 3, 'tslLength': len(raw) * 4}
    for entry in p['credentialStatus']:
        assert entry['type'] == 'BitstringStatusListEntry'
        cred = fetch(entry['statusListCredential'], 'application/vc+jwt')
        subj = cred['credentialSubject']
        assert subj['statusPurpose'] == entry['statusPurpose'] and subj['type'] == 'BitstringStatusList'
        assert subj['encodedList'][0] == 'u'
        bits = gzip.decompress(b64(subj['encodedList'][1:]))
        j = int(entry['statusListIndex'])
        r[entry['statusPurpose']] = (bits[j // 8] >> (7 - j % 8)) & 1
        r['bslLength'] = len(bits) * 8
    out.append(r)
print(json.dumps(out))
