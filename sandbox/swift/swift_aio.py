#!/usr/bin/python3
"""All-in-one OpenStack Swift (Debian's swift 2.30 packages) for the mixmesh sandbox.

One eventlet process serves the proxy (tempauth + s3api), account, container and object servers,
the way Swift's own in-process functional tests run them. Everything lives under DIR: the
rings, swift.conf (repointed with set_swift_dir, never /etc/swift), the device directory, the
configs. tempauth needs a memcache: an in-process dict cache filter stands in (workers = 0: one
process, so one cache). Usage:

    /usr/bin/python3 swift_aio.py DIR PROXY_PORT   # prints "READY <port>" on stdout once listening

Stop it with SIGTERM (or SIGKILL) to its pid.
"""
import os
import sys
import time

os.environ.setdefault('EVENTLET_NO_GREENDNS', 'yes')

import eventlet  # noqa: E402

eventlet.monkey_patch()

from eventlet import wsgi  # noqa: E402


class InProcessCache(object):
    """The subset of swift.common.memcached.MemcacheRing the proxy middlewares use."""

    def __init__(self):
        self.store = {}

    def _live(self, key):
        entry = self.store.get(key)
        if entry is None:
            return None
        value, expires = entry
        if expires and expires < time.time():
            del self.store[key]
            return None
        return entry

    @staticmethod
    def _expiry(t):
        if not t:
            return 0
        # memcache semantics: more than 30 days is an absolute time
        return t if t > 30 * 24 * 3600 else time.time() + t

    def get(self, key, raise_on_error=False):
        entry = self._live(key)
        return None if entry is None else entry[0]

    def set(self, key, value, serialize=True, time=0, min_compress_len=0, raise_on_error=False):
        self.store[key] = (value, self._expiry(time))
        return True

    def incr(self, key, delta=1, time=0):
        entry = self._live(key)
        value = int(entry[0]) + delta if entry else delta
        self.store[key] = (value, self._expiry(time) if not entry else entry[1])
        return value

    def decr(self, key, delta=1, time=0):
        return self.incr(key, -delta, time)

    def delete(self, key, server_key=None):
        self.store.pop(key, None)

    def set_multi(self, mapping, server_key, serialize=True, time=0, min_compress_len=0):
        for k, v in mapping.items():
            self.set(k, v, time=time)

    def get_multi(self, keys, server_key):
        return [self.get(k) for k in keys]


CACHE = InProcessCache()


def cache_filter_factory(global_conf, **local_conf):
    def wrap(app):
        def cached(env, start_response):
            env['swift.cache'] = CACHE
            return app(env, start_response)
        return cached
    return wrap


SWIFT_CONF = """[swift-hash]
swift_hash_path_suffix = mixmesh-sandbox-suffix
swift_hash_path_prefix = mixmesh-sandbox-prefix

[storage-policy:0]
name = Policy-0
default = yes
"""

COMMON = """[DEFAULT]
devices = {devices}
mount_check = false
disable_fallocate = true
workers = 0
bind_ip = 127.0.0.1
bind_port = {port}
bind_timeout = 5
swift_dir = {dir}
log_name = {name}
"""

SERVER = COMMON + """
[pipeline:main]
pipeline = {name}

[app:{name}]
use = egg:swift#{name}
"""

PROXY = COMMON + """
[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk tempurl ratelimit s3api tempauth copy container-quotas account-quotas slo dlo versioned_writes symlink proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
allow_account_management = true

[filter:cache]
use = call:swift_aio:cache_filter_factory

[filter:s3api]
use = egg:swift#s3api
location = us-east-1

[filter:tempauth]
use = egg:swift#tempauth
user_admin_admin = admin .admin .reseller_admin
user_test_tester = testing .admin
user_test2_tester2 = testing2 .admin

[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:healthcheck]
use = egg:swift#healthcheck
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:bulk]
use = egg:swift#bulk
[filter:tempurl]
use = egg:swift#tempurl
[filter:ratelimit]
use = egg:swift#ratelimit
[filter:copy]
use = egg:swift#copy
[filter:container-quotas]
use = egg:swift#container_quotas
[filter:account-quotas]
use = egg:swift#account_quotas
[filter:slo]
use = egg:swift#slo
[filter:dlo]
use = egg:swift#dlo
[filter:versioned_writes]
use = egg:swift#versioned_writes
[filter:symlink]
use = egg:swift#symlink
"""


def free_socket():
    return eventlet.listen(('127.0.0.1', 0))


def main():
    base = os.path.abspath(sys.argv[1])
    proxy_port = int(sys.argv[2])
    devices = os.path.join(base, 'devices')
    os.makedirs(os.path.join(devices, 'd1'), exist_ok=True)
    with open(os.path.join(base, 'swift.conf'), 'w') as f:
        f.write(SWIFT_CONF)

    from swift.common import utils
    utils.set_swift_dir(base)  # repoints SWIFT_CONF_FILE away from /etc/swift/swift.conf
    from swift.common import constraints, storage_policy
    storage_policy.reload_storage_policies()
    constraints.reload_constraints()
    from swift.common.ring import RingBuilder
    from swift.common.wsgi import loadapp

    socks = {name: free_socket() for name in ('account', 'container', 'object')}
    for name, sock in socks.items():
        ring_file = os.path.join(base, '%s.ring.gz' % name)
        builder = RingBuilder(8, 1, 1)
        builder.add_dev({'region': 1, 'zone': 1, 'ip': '127.0.0.1', 'port': sock.getsockname()[1],
                         'device': 'd1', 'weight': 100})
        builder.rebalance()
        builder.get_ring().save(ring_file)

    apps = []
    for name, sock in socks.items():
        conf = os.path.join(base, '%s-server.conf' % name)
        with open(conf, 'w') as f:
            f.write(SERVER.format(devices=devices, port=sock.getsockname()[1], dir=base, name='%s' % name))
        apps.append((sock, loadapp(conf)))
    proxy_sock = eventlet.listen(('127.0.0.1', proxy_port))
    conf = os.path.join(base, 'proxy-server.conf')
    with open(conf, 'w') as f:
        f.write(PROXY.format(devices=devices, port=proxy_port, dir=base, name='proxy-server'))
    apps.append((proxy_sock, loadapp(conf)))

    class Quiet(object):
        def write(self, _):
            pass

    pool = eventlet.GreenPool()
    for sock, app in apps:
        pool.spawn_n(wsgi.server, sock, app, log=Quiet(), custom_pool=eventlet.GreenPool(1024))
    sys.stdout.write('READY %d\n' % proxy_sock.getsockname()[1])
    sys.stdout.flush()
    pool.waitall()


if __name__ == '__main__':
    main()
