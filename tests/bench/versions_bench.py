"""ListObjectVersions of max-keys=1000 from a bucket of 1,000,000 versions (1000 keys x 1000
versions, filled by bench_vfill), timed at several markers: the median of >= 20 requests each,
over one kept-alive connection, signed before the clock starts (client time to the last byte).

  python3 tests/bench/versions_bench.py BUILD_DIR [NKEYS NVERS REPS]
"""
import os
import statistics
import sys
import tempfile
import time

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import requests

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from conftest import Server  # noqa: E402


def main():
    build = sys.argv[1]
    nk, nv = (int(sys.argv[2]), int(sys.argv[3])) if len(sys.argv) > 3 else (1000, 1000)
    reps = int(sys.argv[4]) if len(sys.argv) > 4 else 25
    os.environ.setdefault("TESSERA_BIN", os.path.join(build, "tessera"))
    root = tempfile.mkdtemp(prefix="tessera-vbench-")
    data = os.path.join(root, "data")
    os.makedirs(data)
    t0 = time.time()
    if os.system("%s/bench_vfill %s vbench %d %d" % (build, data, nk, nv)) != 0:
        sys.exit("fill failed")
    print("fill: %d versions in %.1f s" % (nk * nv, time.time() - t0))
    srv = Server(data)
    srv.start()
    try:
        creds = botocore.credentials.Credentials(srv.root_user, srv.root_password)
        sess = requests.Session()
        markers = [("start", ""), ("key 1/4", "&key-marker=obj%%2F%07d" % (nk // 4)),
                   ("key 1/2 + version", None), ("key 3/4", "&key-marker=obj%%2F%07d" % (3 * nk // 4)),
                   ("prefix obj/00005", "&prefix=obj%2F00005"),
                   ("baseline ListObjectsV2", "LISTV2")]
        first = sess.get(srv.endpoint + "/vbench?versions&max-keys=1", headers=sign(
            creds, srv.endpoint + "/vbench?versions&max-keys=1"))
        assert first.status_code == 200, first.text
        # A version-id-marker in the middle of a key: the 500th version of key nk/2.
        url = srv.endpoint + "/vbench?versions&max-keys=500&key-marker=obj%%2F%07d" % (nk // 2 - 1)
        body = sess.get(url, headers=sign(creds, url)).text
        assert "<NextVersionIdMarker>" in body, body[:600]
        vid = body.split("<NextVersionIdMarker>")[1].split("<")[0]
        nkm = body.split("<NextKeyMarker>")[1].split("<")[0]
        for name, q in markers:
            if q is None:
                q = "&key-marker=%s&version-id-marker=%s" % (nkm.replace("/", "%2F"), vid)
            url = srv.endpoint + "/vbench?versions&max-keys=1000" + q
            if q == "LISTV2":  # the same machine's noise on a listing of 1000 current keys
                url = srv.endpoint + "/vbench?list-type=2&max-keys=1000"
            times = []
            for _ in range(reps):
                h = sign(creds, url)
                t = time.perf_counter()
                r = sess.get(url, headers=h)
                times.append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200 and r.text.count("<Version>") + r.text.count(
                    "<Contents>") == 1000, r.text[:300]
            print("ListObjectVersions max-keys=1000, %-20s median %.2f ms (min %.2f, max %.2f, "
                  "n=%d)" % (name, statistics.median(times), min(times), max(times), reps))
    finally:
        srv.stop()
        os.system("rm -rf %s" % root)


def sign(creds, url):
    req = botocore.awsrequest.AWSRequest(method="GET", url=url)
    botocore.auth.S3SigV4Auth(creds, "s3", "us-east-1").add_auth(req)
    return dict(req.headers)


if __name__ == "__main__":
    main()
