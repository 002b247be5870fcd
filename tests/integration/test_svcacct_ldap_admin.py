"""Service accounts an admin creates for an LDAP user by naming its DN (issue 20, item 1; MinIO's
`mc admin user svcacct add ALIAS 'uid=bob,ou=people,dc=example,dc=org'`), against a real slapd
(tests/integration/slapd.py): through `tessera admin svcacct add DN` and the admin API; the
key acts with exactly the DN's and its groups' `--dn` attachments (boto3 and the aws cli); DNs
that are not users of the directory, with filter metacharacters, or without policies are
refused and create nothing; a directory that does not answer is 503; a non-admin cannot; and
the account dies when the user leaves the directory (the LDAP validity check).
"""
import concurrent.futures
import os
import shutil
import tempfile
import time

import botocore.exceptions
import pytest

import test_ldap as tl
from conftest import admin, aws, s3_client
from slapd import SUFFIX, Slapd, group_ldif, user_ldif
from test_svcacct import RO_DATA, RW_DATA, api, cli, cli_json, put_ok, s3, write

PEOPLE, GROUPS = tl.PEOPLE, tl.GROUPS


@pytest.fixture(scope="module")
def directory():
    d = Slapd()
    try:
        d.start()
        d.add("\n\n".join([
            user_ldif("hank", password="hank-pw-1"),
            user_ldif("ivy", password="ivy-pw-1"),
            user_ldif("jack", password="jack-pw-1"),
            group_ldif("hankers", ["uid=hank," + PEOPLE, "uid=jack," + PEOPLE]),
        ]) + "\n")
        yield d
    finally:
        d.close()


@pytest.fixture
def srv(directory):
    """A server with LDAP (validity check every 2 s): policies rw-data on the group DN
    cn=hankers (hank, jack) and ro-data on hank's and jack's DNs; static user alice (rw-data,
    not an admin); bucket data with one object."""
    tmp = tempfile.mkdtemp(prefix="tessera-svcldap-")
    srv = tl.start_server(tmp, tl.ldap_env(directory, TESSERA_IDENTITY_LDAP_REFRESH_INTERVAL="2s"),
                          setup=False)
    try:
        admin(srv, "policy", "create", "rw-data", write(tmp, "rw.json", RW_DATA))
        admin(srv, "policy", "create", "ro-data", write(tmp, "ro.json", RO_DATA))
        admin(srv, "policy", "attach", "rw-data", "--dn", "cn=hankers," + GROUPS)
        for u in ("hank", "jack"):
            admin(srv, "policy", "attach", "ro-data", "--dn", "uid=%s,%s" % (u, PEOPLE))
        admin(srv, "user", "add", "alice", "alice-secret-1")
        admin(srv, "policy", "attach", "rw-data", "--user", "alice")
        root = s3_client(srv)
        for b in ("data", "other"):
            root.create_bucket(Bucket=b)
        root.put_object(Bucket="data", Key="hello", Body=b"hello")
        srv.tmp = tmp
        yield srv
    finally:
        srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def all_accounts(srv):
    st, lst = api(srv, "GET", "svcaccts")
    assert st == 200, lst
    return sorted(a["accessKey"] for a in lst["accounts"])


def get_ok(c):
    try:
        return c.get_object(Bucket="data", Key="hello")["Body"].read() == b"hello"
    except botocore.exceptions.ClientError as e:
        assert e.response["Error"]["Code"] in ("AccessDenied", "InvalidAccessKeyId"), e.response
        return False


def test_cli_creates_for_a_dn_with_its_policies_until_it_leaves(srv, directory):
    # any spelling of the DN: the account's parent is the normalised DN, as a login records it
    acct = cli_json(srv, "svcacct", "add", "UID=Hank, OU=People,dc=example,dc=org",
                    "--name", "hank-ci")
    assert acct["parentType"] == "ldap" and acct["parent"] == "uid=hank," + PEOPLE, acct
    assert len(acct["secretKey"]) == 40
    c = s3(srv, acct)
    # exactly the DN's attachments: rw-data through the group DN, ro-data on the DN itself
    assert put_ok(c) and get_ok(c)
    assert not put_ok(c, bucket="other")
    # the aws cli with the account's keys
    p = aws(srv, "s3api", "get-object", "--bucket", "data", "--key", "hello",
            os.path.join(srv.tmp, "out"), ak=acct["accessKey"], sk=acct["secretKey"])
    assert open(os.path.join(srv.tmp, "out"), "rb").read() == b"hello", p.stdout
    # the group's policy detached: its rights go at once, the DN's stay
    admin(srv, "policy", "detach", "rw-data", "--dn", "cn=hankers," + GROUPS)
    assert not put_ok(c) and get_ok(c)
    # listing that parent's accounts, whatever the DN's spelling
    lst = cli_json(srv, "svcacct", "list", "uid=HANK,ou=people, dc=example,dc=org")
    assert [a["accessKey"] for a in lst["accounts"]] == [acct["accessKey"]]
    out = cli(srv, "svcacct", "list", "uid=hank," + PEOPLE).stdout
    assert acct["accessKey"] in out and "uid=hank," + PEOPLE in out
    assert cli_json(srv, "svcacct", "list", "uid=jack," + PEOPLE)["accounts"] == []
    # hank leaves the directory: the validity check revokes the DN and its accounts
    directory.delete("uid=hank," + PEOPLE)
    deadline = time.time() + 20
    while get_ok(c):
        assert time.time() < deadline, "the service account outlived its LDAP parent"
        time.sleep(0.5)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.get_object(Bucket="data", Key="hello")
    assert e.value.response["Error"]["Code"] == "InvalidAccessKeyId"


def test_admin_api_creates_for_a_dn(srv):
    dn = "uid=jack," + PEOPLE
    st, acct = api(srv, "POST", "svcaccts", {"parent": dn, "parentType": "ldap", "name": "j1"})
    assert st == 200 and acct["parentType"] == "ldap" and acct["parent"] == dn, acct
    c = s3(srv, acct)
    assert put_ok(c) and get_ok(c) and not put_ok(c, bucket="other")
    # without parentType: a name with '=' is a DN when LDAP is configured (MinIO's rule);
    # with its own policy: the intersection with the DN's current policies
    st, acct2 = api(srv, "POST", "svcaccts", {"parent": dn, "policy": RO_DATA})
    assert st == 200 and acct2["parentType"] == "ldap", acct2
    c2 = s3(srv, acct2)
    assert get_ok(c2) and not put_ok(c2)
    st, lst = api(srv, "GET", "svcaccts?parent=UID%3DJack%2Cou%3Dpeople%2Cdc%3Dexample%2Cdc%3Dorg")
    assert st == 200 and sorted(a["accessKey"] for a in lst["accounts"]) == \
        sorted([acct["accessKey"], acct2["accessKey"]]), lst
    st, info = api(srv, "GET", "svcaccts/" + acct["accessKey"])
    assert st == 200 and info["parent"] == dn


def test_names_needing_escapes_are_found_exactly(srv):
    # uid=dan(*) is a real user whose name holds filter metacharacters: found, and only him
    dn = "uid=dan(*)," + PEOPLE
    admin(srv, "policy", "attach", "ro-data", "--dn", dn)
    st, acct = api(srv, "POST", "svcaccts", {"parent": dn})
    assert st == 200 and acct["parent"] == dn, acct
    assert get_ok(s3(srv, acct))


@pytest.mark.parametrize("dn", [
    "uid=a*)(uid=*," + PEOPLE,        # filter injection: a DN is never put in a filter
    "uid=*," + PEOPLE,                # a wildcard is not a DN pattern
    "uid=hank*," + PEOPLE,
    "uid=nobody," + PEOPLE,           # no such entry
    "cn=hankers," + GROUPS,           # an entry, but a group: not found by the user search
    "cn=lookup,ou=services," + SUFFIX,  # the lookup account: no user name
    "uid=twin,ou=staff," + SUFFIX,    # a user whose name the user search finds twice
])
def test_not_a_user_of_the_directory(srv, dn):
    before = all_accounts(srv)
    st, err = api(srv, "POST", "svcaccts", {"parent": dn})
    assert st == 404 and err["Code"] == "NoSuchEntity", err
    assert "not a user in the LDAP directory" in err["Message"], err
    p = cli(srv, "svcacct", "add", dn, check=False)
    assert p.returncode == 1 and "NoSuchEntity" in p.stderr, p.stderr
    assert all_accounts(srv) == before


def test_refusals(srv, directory):
    before = all_accounts(srv)
    # a user of the directory without any policy: a login would be refused too
    st, err = api(srv, "POST", "svcaccts", {"parent": "uid=ivy," + PEOPLE})
    assert st == 400 and err["Code"] == "InvalidArgument" and "No policy" in err["Message"], err
    # not a DN
    for body in ({"parent": "bob", "parentType": "ldap"}, {"parent": "uid=x,=y"},
                 {"parent": "uid=hank," + PEOPLE, "parentType": "oidc"}):
        st, err = api(srv, "POST", "svcaccts", body)
        assert st == 400 and err["Code"] == "InvalidArgument", (body, err)
    # a static user that is not an admin cannot create one for a DN, before any lookup
    st, err = api(srv, "POST", "svcaccts", {"parent": "uid=hank," + PEOPLE},
                  creds=("alice", "alice-secret-1"))
    assert st == 403 and err["Code"] == "AccessDenied", err
    p = cli(srv, "svcacct", "add", "uid=hank," + PEOPLE, creds=("alice", "alice-secret-1"),
            check=False)
    assert p.returncode == 1 and "AccessDenied" in p.stderr, p.stderr
    # ... nor list that DN's accounts
    st, err = api(srv, "GET", "svcaccts?parent=uid%3Dhank%2Cou%3Dpeople%2Cdc%3Dexample%2Cdc%3Dorg",
                  creds=("alice", "alice-secret-1"))
    assert st == 403, err
    # nor can an LDAP login's session create one for another DN
    sess = tl.login(srv, "jack", "jack-pw-1")
    creds = (sess["AccessKeyId"], sess["SecretAccessKey"], sess["SessionToken"])
    st, err = api(srv, "POST", "svcaccts", {"parent": "uid=hank," + PEOPLE}, creds=creds)
    assert st == 403, err
    # ... but for itself, naming its own DN in any spelling
    st, own = api(srv, "POST", "svcaccts", {"parent": "UID=jack,ou=people,dc=example,dc=org"},
                  creds=creds)
    assert st == 200 and own["parent"] == "uid=jack," + PEOPLE, own
    assert all_accounts(srv) == sorted(before + [own["accessKey"]])


def test_directory_down_is_503_and_creates_nothing(srv, directory):
    before = all_accounts(srv)
    directory.pause()
    try:
        t0 = time.time()
        with concurrent.futures.ThreadPoolExecutor(1) as ex:
            f = ex.submit(api, srv, "POST", "svcaccts", {"parent": "uid=jack," + PEOPLE})
            time.sleep(1)
            # S3 and the admin API's reads go on meanwhile: the lookup waits on a worker
            assert not f.done()
            assert s3_client(srv).get_object(Bucket="data", Key="hello")["Body"].read() == \
                b"hello"
            assert all_accounts(srv) == before
            st, err = f.result()
        took = time.time() - t0
    finally:
        directory.resume()
    assert st == 503 and err["Code"] == "ServiceUnavailable", err
    assert "LDAP" in err["Message"] and took < 15, (err, took)
    assert all_accounts(srv) == before
    st, acct = api(srv, "POST", "svcaccts", {"parent": "uid=jack," + PEOPLE})
    assert st == 200, acct


def test_parent_type_static_without_ldap_meaning(srv):
    # "parentType":"static" keeps a name with '=' a static user name (here: none such)
    st, err = api(srv, "POST", "svcaccts", {"parent": "a=b", "parentType": "static"})
    assert st == 404 and "user a=b does not exist" in err["Message"], err
