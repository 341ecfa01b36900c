"""Shared infrastructure of the world: ISPs and homes (DHCP leases, IPv6), hotspots,
hosting and cloud providers, mobile carriers (CGNAT pools), commercial VPNs, an
SMS-activation pool, common device fingerprints, and the residential proxies and
reseller relays that campaigns and proxy customers exit from."""

from __future__ import annotations

import math
from typing import Any

from ..netspace import Provider
from ..timing import DAY, T0, T1
from ..vocab import COUNTRIES, REGION_OF
from .common import Home, Pool, cumulative, zipf_cum
from .core import Core


class Infrastructure(Core):
    """Builds and hands out the shared infrastructure."""

    def isp(self, ci: int) -> Provider:
        if ci not in self.isps:
            w = COUNTRIES[ci][1] / sum(c[1] for c in COUNTRIES)
            k = 2 + int(self.rnd() * 3)
            shares = cumulative([self.rnd() + 0.3 for _ in range(k)])
            provs = []
            prev = 0.0
            for j in range(k):
                share = shares[j] - prev
                prev = shares[j]
                blocks = max(2, math.ceil(self.n * 0.9 * w * share * 1.7 * 6 / 254))
                provs.append(
                    self.net.provider(
                        "isp",
                        self.c_code[ci],
                        blocks,
                        "residential",
                        p_prefix=0.72,
                        p_exact=0.12,
                        aggregate=self.rnd() < 0.6,
                        v6=self.rnd() < 0.7,
                        p_v6_info=0.8,
                    )
                )
            self.isps[ci] = (provs, shares)
        provs, shares = self.isps[ci]
        return self.pick_cum(provs, shares)

    def home(self, ci: int) -> Home:
        isp = self.isp(ci)
        nle = 1 + self.pois(0.7)
        start = T0 - 60 * DAY
        cuts = sorted(int(self.U(start, T1)) for _ in range(nle - 1))
        bounds = [start, *cuts, T1]
        rel = self.released.setdefault(isp.asn, [])
        leases = []
        for i in range(nle):
            s, e = bounds[i], bounds[i + 1]
            code = -1
            if rel and self.rnd() < 0.25:  # DHCP hands out an address a stranger released
                for _ in range(3):
                    t_rel, c = rel[int(self.rnd() * len(rel))]
                    if t_rel + 3 * DAY < s:
                        code = c
                        break
            if code < 0:
                code = self.host_ip(isp)
            leases.append((code, s, e))
            if e < T1 and self.rnd() < 0.5:
                rel.append((e, code))
        v6 = self.v6net(self.net.v6_64(isp), isp.v6_rid) if isp.v6 >= 0 and self.rnd() < 0.45 else 0
        h = Home(leases, v6)
        self.homes.append(h)
        return h

    def hotspot(self, ci: int) -> int:
        if ci not in self.hotspots:
            w = COUNTRIES[ci][1] / sum(c[1] for c in COUNTRIES)
            pool = []
            for _ in range(max(2, int(self.n * w / 700))):
                code = self.host_ip(self.isp(ci))
                if self.rnd() < 0.3:
                    self.net.overrides.append(
                        (self.values[code], self.net.ranges[self.val_rid[code]].asn, "corporate")
                    )
                pool.append(code)
            self.hotspots[ci] = pool
        return self.pick(self.hotspots[ci])

    def infra(self, plan: dict[str, Any]) -> None:
        _r, net = self.r, self.net
        n = self.n
        # hosting (datacenter) providers
        self.hosting: list[Provider] = []
        for _ in range(8 + int(self.rnd() * 5)):
            self.hosting.append(
                net.provider(
                    "hosting",
                    self.pick(["US", "DE", "NL", "SG", "FR", "GB", "CA"]),
                    max(6, n // 3000) + int(self.rnd() * 10),
                    "datacenter",
                    p_prefix=0.78,
                    p_exact=0.08,
                    aggregate=self.rnd() < 0.5,
                    v6=self.rnd() < 0.6,
                    p_v6_info=0.9,
                )
            )
        # clouds (CI runners): huge pools, prefix-covered
        self.clouds: list[Provider] = []
        for _ in range(3):
            self.clouds.append(
                net.provider(
                    "cloud",
                    "US",
                    512,
                    "datacenter",
                    p_prefix=0.95,
                    p_exact=0.0,
                    aggregate=True,
                    v6=True,
                    p_v6_info=0.95,
                )
            )
        # mobile carriers per region; CGNAT pools sized so that a few addresses carry
        # a large share of the region's mobile users.
        region_w: dict[str, float] = {}
        for c in COUNTRIES:
            region_w[REGION_OF[c[0]]] = region_w.get(REGION_OF[c[0]], 0.0) + c[1]
        totw = sum(region_w.values())
        exp_mobile_users = plan["benign"] * 0.58
        self.carriers: dict[str, tuple[list[tuple[Provider, Pool]], list[float]]] = {}
        for region, w in region_w.items():
            k = 1 + int(self.rnd() * 2) + (1 if region in ("eu", "na") else 0)
            raw = sorted((self.rnd() + 0.15 for _ in range(k)), reverse=True)
            raw[0] += 1.2
            cum = cumulative(raw)
            carriers = []
            prev = 0.0
            for j in range(k):
                share = cum[j] - prev
                prev = cum[j]
                users = exp_mobile_users * (w / totw) * share
                size = max(2, round(users / 900))
                p = net.provider(
                    "carrier",
                    region,
                    1 + size // 200,
                    "mobile",
                    p_prefix=0.7,
                    p_exact=0.22,
                    aggregate=self.rnd() < 0.5,
                    v6=True,
                    p_v6_info=0.75,
                )
                codes = [self.host_ip(p, int(self.rnd() * len(p.blocks))) for _ in range(size)]
                carriers.append((p, Pool(codes, zipf_cum(size, 1.5))))
            self.carriers[region] = (carriers, cum)
        # commercial VPN providers: exits in hosting ASNs, flagged vpn in the feed (mostly)
        exp_vpn_users = plan["quota"]["vpn"] + 0.1 * plan["benign"]
        k = 3 + int(self.rnd() * 3)
        vcum = cumulative(sorted((self.rnd() + 0.2 for _ in range(k)), reverse=True))
        self.vpns: list[Pool] = []
        self.vpn_ids: list[str] = []
        prev = 0.0
        for j in range(k):
            share = vcum[j] - prev
            prev = vcum[j]
            size = max(6, int(exp_vpn_users * share / 90))
            codes = []
            for _ in range(size):
                code = self.host_ip(self.pick(self.hosting))
                if self.rnd() < 0.72:
                    net.overrides.append(
                        (self.values[code], net.ranges[self.val_rid[code]].asn, "vpn")
                    )
                codes.append(code)
            self.vpns.append(Pool(codes, zipf_cum(size, 1.0)))
            self.vpn_ids.append(self.gid("vpn"))
        self.vpn_cum = vcum
        # SMS-activation ("virtual number") pool, used by privacy-minded people and campaigns
        self.sms_pool = [
            self.phone(self.pick([0, 2, 17, 9, 19, 21])) for _ in range(max(10, n // 120))
        ]
        # very common device fingerprints (same phone model + OS build), and SDK client
        # fingerprints shared by every API user on the same SDK version
        self.common_dev = Pool([self.device() for _ in range(40)], zipf_cum(40, 1.2))
        self.sdk_dev = Pool([self.device() for _ in range(8)], zipf_cum(8, 1.0))
        self.cloud_count = 0

    def reserve(self, plan: dict[str, Any]) -> None:
        """Pick campaign infrastructure that benign builders must be able to collide with."""
        self.sloppy_block: dict[int, tuple[Provider, int]] = {}
        for j, t in enumerate(plan["camp_tiers"]):
            if t == "sloppy":
                host = self.pick(self.hosting)
                self.sloppy_block[j] = (host, int(self.rnd() * len(host.blocks)))

    def carrier_of(self, ci: int) -> tuple[Provider, Pool]:
        carriers, cum = self.carriers[REGION_OF[self.c_code[ci]]]
        return self.pick_cum(carriers, cum)

    # ----------------------------------------------------------- proxies
    def build_proxies(self, plan: dict[str, Any]) -> None:
        """Residential proxy providers (sized by the hydra and reseller campaigns and the
        proxy customers that will exit from them) and the reseller relays."""
        net = self.net
        tiers, sizes = plan["camp_tiers"], plan["camp_sizes"]
        n_res = 2 + (self.rnd() < 0.5)
        self.resprov_ids = [self.gid("rpx") for _ in range(n_res)]
        draws = [0.0] * n_res
        self.camp_provider: dict[int, int] = {}
        for j, (t, s) in enumerate(zip(tiers, sizes, strict=False)):
            if t in ("hydra", "reseller"):
                pi = int(self.rnd() * n_res)
                self.camp_provider[j] = pi
                draws[pi] += s * (9 if t == "hydra" else 4)
        pc = plan["quota"]["proxy_customer"]
        for pi in range(n_res):
            draws[pi] += pc / n_res * 14
        self.resprov: list[Pool] = []
        homes = self.homes
        for pi in range(n_res):
            size = max(150, int(draws[pi] / 3.0))
            codes = []
            for _ in range(size):
                if homes and self.rnd() < 0.04:  # a home user's device is a proxy peer
                    code = self.pick(self.pick(homes).leases)[0]
                else:
                    code = self.host_ip(self.isp(self.country()))
                if self.rnd() < 0.15:
                    net.overrides.append(
                        (self.values[code], net.ranges[self.val_rid[code]].asn, "proxy")
                    )
                codes.append(code)
            self.resprov.append(Pool(codes, []))
        # reseller relays: a few datacenter addresses every reseller customer exits from
        self.relays: dict[int, tuple[str, list[int]]] = {}
        for j, t in enumerate(tiers):
            if t == "reseller":
                prov = self.pick(self.hosting)
                codes = [self.host_ip(prov) for _ in range(2 + int(self.rnd() * 4))]
                if self.rnd() < 0.3:
                    c = codes[0]
                    net.overrides.append((self.values[c], net.ranges[self.val_rid[c]].asn, "proxy"))
                self.relays[j] = (self.gid("rsl"), codes)
