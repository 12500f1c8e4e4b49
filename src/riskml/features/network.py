"""Network family: the provider-patient graph, fitted on the training window, plus co-visits.

Collusion rings (医患合谋 / 团伙) show up as groups of patients who keep visiting the same small
providers on the same days, and as providers that share an unusual part of their patients with one
other provider (a recruiting clinic and a pharmacy). The graph is built on the training window only
(sparse incidence matrices, scipy connected components, networkx Louvain communities) and then held
fixed; the same-day co-visit count is point in time.

No person id is kept in the fitted model (CONTRACT.md: person ids are personal data, and a
registered model is copied to places the data never goes). The person graph is keyed by a
keyed 64-bit hash of the person id (SipHash, :func:`pandas.util.hash_array`) under a random key
drawn at each fit and kept with the graph; only persons with co-visit partners are kept (the
others read as "no partners, a group of one" either way). The key travels with the model, so
batch scoring, ``riskml features --model`` and the service hash a claimant exactly as training
did, whatever their environment: the features are those of the person ids themselves. The
pseudonyms differ from model to model and from the service's audit pseudonyms
(:func:`riskml.security.pseudonymise`), so the artifact cannot be joined to other data by
person. Whoever holds the artifact and a list of candidate ids can still test them against it:
keying by the server secret instead would close that, at the price of a model that computes
other features wherever ``RISKML_SECRET`` differs; the rolling person state of the entity-state
work (kept in the store) removes the table from the model altogether.
"""

from __future__ import annotations

import secrets

import networkx as nx
import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from riskml.features.context import (
    DAY_S,
    Columns,
    Context,
    Groups,
    combine,
    join_positions,
    key_index,
    take,
)
from riskml.features.history import LOOKBACK_S
from riskml.features.norms import fitted_cache, safe_ratio
from riskml.features.registry import Aggregate, Entity, days, feature
from riskml.features.rolling import EntityHistory

#: Characters of the random SipHash key of a fitted person graph (16, as SipHash takes).
PERSON_HASH_KEY_CHARS = 16
MAX_EVENT_SIZE = 50  # (provider, day) groups larger than this are ordinary busy days
MIN_SHARED_VISITS = 2
MIN_SHARED_PATIENTS = 3


def fit(ctx: Context, window_rows: np.ndarray, seed: int = 0) -> dict[str, pd.DataFrame]:
    """Person co-visit partners and components, provider shared-patient density and communities."""
    c = ctx.claims.iloc[window_rows]
    c = c.loc[c["provider"].to_numpy() >= 0]
    persons = pd.Index(c["person_id"].unique())
    providers = pd.Index(c["provider_id"].unique())
    pi = persons.get_indexer(c["person_id"])
    vi = providers.get_indexer(c["provider_id"])

    # persons x (provider, day) events of small size
    day = np.nan_to_num(c["ss_day"].to_numpy(), nan=-1).astype("int64")
    event = combine(vi.astype("int64"), day)
    pairs = pd.DataFrame({"p": pi, "e": event}).drop_duplicates()
    size = pairs.groupby("e")["p"].transform("size").to_numpy()
    pairs = pairs.loc[(size >= 2) & (size <= MAX_EVENT_SIZE)]
    n_p = len(persons)
    partners = np.zeros(n_p)
    component_size = np.ones(n_p)
    if len(pairs):
        ev = pd.factorize(pairs["e"])[0]
        b = sp.csr_matrix(
            (np.ones(len(pairs)), (pairs["p"].to_numpy(), ev)), shape=(n_p, int(ev.max()) + 1)
        )
        co = (b @ b.T).tocoo()
        keep = (co.row != co.col) & (co.data >= MIN_SHARED_VISITS)
        rows, cols = co.row[keep], co.col[keep]
        partners = np.bincount(rows, minlength=n_p).astype("float64")
        graph = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_p, n_p))
        _, labels = connected_components(graph, directed=False)
        counts = np.bincount(labels)
        component_size = counts[labels].astype("float64")
    linked = partners > 0
    while True:  # a 64-bit collision among the linked persons is astronomically rare: redraw
        hash_key = secrets.token_urlsafe(12)  # 16 characters, 96 random bits
        keys = person_keys(persons.to_numpy()[linked], hash_key)
        if len(np.unique(keys)) == len(keys):
            break
    person_table = pd.DataFrame(
        {
            "person_key": keys,
            "partners": partners[linked],
            "component": component_size[linked],
        }
    )

    # providers x providers shared patients
    n_v = len(providers)
    inc = sp.csr_matrix((np.ones(len(pi)), (pi, vi)), shape=(n_p, n_v))
    inc.data[:] = 1.0
    inc = (inc > 0).astype("float64")
    shared = (inc.T @ inc).tocoo()
    patients = np.asarray(inc.sum(axis=0)).ravel()
    off = shared.row != shared.col
    r, q, v = shared.row[off], shared.col[off], shared.data[off]
    share = v / np.maximum(patients[r], 1.0)
    density = np.zeros(n_v)
    if len(r):
        np.maximum.at(density, r, share)
    community_size = np.ones(n_v)
    strong = (v >= MIN_SHARED_PATIENTS) & (r < q)
    if strong.any():
        g = nx.Graph()
        g.add_nodes_from(range(n_v))
        jaccard = v[strong] / (patients[r[strong]] + patients[q[strong]] - v[strong])
        g.add_weighted_edges_from(
            zip(r[strong].tolist(), q[strong].tolist(), jaccard.tolist(), strict=True)
        )
        communities = nx.community.louvain_communities(g, weight="weight", seed=seed)
        for members in communities:
            idx = np.fromiter(members, dtype="int64")
            community_size[idx] = len(idx)
    provider_table = pd.DataFrame(
        {
            "provider_id": providers.to_numpy(),
            "density": density,
            "community": community_size,
            "patients": patients,
        }
    )
    return {
        "person_graph": person_table,
        "person_graph_key": pd.DataFrame({"hash_key": [hash_key]}),
        "provider_graph": provider_table,
    }


def person_keys(person_ids: np.ndarray | pd.Series, hash_key: str) -> np.ndarray:
    """The keyed 64-bit hash of each person id under ``hash_key`` (the fitted graph's key)."""
    ids = np.asarray(person_ids, dtype=object)
    if len(ids) == 0:
        return np.zeros(0, dtype=np.uint64)
    return np.asarray(pd.util.hash_array(ids, hash_key=hash_key, categorize=True), dtype=np.uint64)


def _person_positions(pgraph: pd.DataFrame, hash_key: str, person_ids: pd.Series) -> np.ndarray:
    """Row of the fitted person graph for each claimant, -1 for none."""
    index = fitted_cache(pgraph, ("person_key_index",), lambda: pd.Index(pgraph["person_key"]))
    return np.asarray(index.get_indexer(person_keys(person_ids, hash_key)), dtype="int64")


#: Two persons are co-visit partners at a provider when they shared at least
#: :data:`MIN_SHARED_VISITS` small same-day visits to it within this window (so both visits lie
#: within the year a claim's features read).
COVISIT_WINDOW_DAYS = 180
#: Claims of one visit pair up when submitted at most this many days apart (and a visit's size
#: counts the claims submitted this far back): with the two windows above, everything a
#: co-visit feature reads lies within :data:`~riskml.reach.REACH_DAYS` of the claim.
VISIT_SPREAD_DAYS = 30


def _pairs_of_other_persons(
    groups: Groups,
    time: np.ndarray,
    width: int,
    person: np.ndarray,
    claim_of: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Every (row, earlier row of its group within ``width``) pair of two different persons, as
    claim positions (``claim_of`` maps the groups' rows to claims when they are not the claims
    themselves)."""
    pair_rows, pair_other = [], []
    for _, row, other in groups.window_pairs(time, width):
        if claim_of is not None:
            row, other = claim_of[row], claim_of[other]
        keep = person[row] != person[other]
        pair_rows.append(row[keep])
        pair_other.append(other[keep])
    row = np.concatenate(pair_rows) if pair_rows else np.zeros(0, dtype="int64")
    other = np.concatenate(pair_other) if pair_other else np.zeros(0, dtype="int64")
    return row, other


def _distinct_partners(linked: pd.DataFrame, s: pd.DataFrame, width: int) -> np.ndarray:
    """Per claim of ``s``: distinct persons (``whom``) of the ``linked`` pair records of its
    (provider, claimant) within ``width`` seconds, read by each claim after the records its own
    claim forms (ranks 2r and 2r + 1)."""
    prov, person = s["provider"].to_numpy(), s["person"].to_numpy()
    rank, sub_s = s["rank"].to_numpy(), s["sub_s"].to_numpy()
    owner = np.concatenate([linked["who"].to_numpy(), person])
    owner_key = combine(np.concatenate([linked["p"].to_numpy(), prov]), owner)
    order_rank = np.concatenate([2 * rank[linked["at"].to_numpy()], 2 * rank + 1])
    times = np.concatenate([sub_s[linked["at"].to_numpy()], sub_s])
    code = np.concatenate([linked["whom"].to_numpy(), np.full(len(s), -1, dtype="int64")])
    distinct = Groups(owner_key, order_rank, times).window_distinct(code, times, width)
    return np.nan_to_num(distinct[len(linked) :])


def covisits(s: pd.DataFrame) -> dict[str, np.ndarray]:
    """Rolling co-visits at each claim's provider, for every row of ``s`` (claims of some
    providers in history order, all their claims of the reach).

    A *visit* is a (provider, service day); it is *small* while fewer than
    :data:`MAX_EVENT_SIZE` claims submitted in the previous :data:`VISIT_SPREAD_DAYS` share it
    (busy days of large hospitals are ordinary). Each claim of a small visit pairs its claimant
    with the claimants of the visit's claims submitted before it in those days: the pair is
    known from that claim on, so nothing here depends on later claims. Per row:

    - ``repeat``: claimants of earlier claims of the same visit who already shared another
      small visit to this provider with this claimant within :data:`COVISIT_WINDOW_DAYS`;
    - ``partners``: distinct persons who shared at least :data:`MIN_SHARED_VISITS` small
      visits to this provider with the claimant within the window, up to this claim.
    """
    n = len(s)
    out = {"repeat": np.zeros(n), "partners": np.zeros(n)}
    if n == 0:
        return out
    prov = s["provider"].to_numpy()
    person = s["person"].to_numpy()
    rank = s["rank"].to_numpy()
    sub_s = s["sub_s"].to_numpy()
    day = np.nan_to_num(s["ss_day"].to_numpy(), nan=-1).astype("int64")
    width = COVISIT_WINDOW_DAYS * DAY_S
    spread = VISIT_SPREAD_DAYS * DAY_S
    visit = combine(prov, day)
    before = Groups(visit, rank, sub_s).window_count(sub_s, spread)
    small = np.where((visit >= 0) & (before < MAX_EVENT_SIZE), visit, -1)
    row, other = _pairs_of_other_persons(Groups(small, rank, sub_s), sub_s, spread, person)
    if len(row) == 0:
        return out
    # each pair in both directions, known at the later claim (``row``); one record per visit
    who = np.concatenate([person[row], person[other]])
    whom = np.concatenate([person[other], person[row]])
    at = np.concatenate([row, row])
    forward = np.concatenate([np.ones(len(row), dtype=bool), np.zeros(len(row), dtype=bool)])
    records = pd.DataFrame(
        {"p": prov[at], "who": who, "whom": whom, "visit": visit[at], "at": at, "fwd": forward}
    ).sort_values(["at", "fwd"], kind="stable")
    records = records.drop_duplicates(["p", "who", "whom", "visit"], keep="first")
    r_at = records["at"].to_numpy()
    r_t = sub_s[r_at]
    pair = combine(records["p"].to_numpy(), records["who"].to_numpy(), records["whom"].to_numpy())
    earlier_visits = Groups(pair, rank[r_at], r_t).window_count(r_t, width)
    linked = earlier_visits >= MIN_SHARED_VISITS - 1
    fwd = records["fwd"].to_numpy()
    out["repeat"] = np.bincount(r_at[fwd & linked], minlength=n).astype("float64")
    out["partners"] = _distinct_partners(records.loc[linked], s, width)
    return out


#: Claims at one provider whose service days are at most this many days apart are one co-visit
#: for the ``*_within_a_day`` features: a recruited group often comes over two days.
COVISIT_TOLERANCE_DAYS = 1
#: Two co-visits of the same pair are distinct occasions when their days are at least this far
#: apart (so the two days of one group visit are never two occasions).
OCCASION_GAP_DAYS = 2 * COVISIT_TOLERANCE_DAYS + 1


def covisits_within_a_day(s: pd.DataFrame) -> dict[str, np.ndarray]:
    """Rolling co-visits at each claim's provider with the service days allowed to differ by
    :data:`COVISIT_TOLERANCE_DAYS`, for every row of ``s`` (as :func:`covisits`).

    Each claim of a small visit (as in :func:`covisits`) pairs its claimant with the claimants of
    the provider's earlier-submitted claims (at most :data:`VISIT_SPREAD_DAYS` before it) of
    small visits whose service day is within a day of its own; the pair's *occasion* is the
    earlier of the two days. A pair record (provider, claimant, other person, occasion) is
    known from the first claim that forms it; it is *linked* when the same two persons already
    had a record at this provider known before it, within :data:`COVISIT_WINDOW_DAYS`, on an
    occasion at least :data:`OCCASION_GAP_DAYS` days away. Per row:

    - ``repeat``: persons with whom this claim forms a linked record (claimants of the visit who
      came here with this claimant on another occasion);
    - ``partners``: distinct persons with a linked record with the claimant at this provider
      within the window, up to this claim.
    """
    n = len(s)
    out = {"repeat": np.zeros(n), "partners": np.zeros(n)}
    if n == 0:
        return out
    prov = s["provider"].to_numpy()
    person = s["person"].to_numpy()
    rank = s["rank"].to_numpy()
    sub_s = s["sub_s"].to_numpy()
    day = np.nan_to_num(s["ss_day"].to_numpy(), nan=-1).astype("int64")
    width = COVISIT_WINDOW_DAYS * DAY_S
    spread = VISIT_SPREAD_DAYS * DAY_S
    visit = combine(prov, day)
    before = Groups(visit, rank, sub_s).window_count(sub_s, spread)
    small = np.flatnonzero((visit >= 0) & (day >= 0) & (before < MAX_EVENT_SIZE))
    # each small claim in two spans of its provider, ending on its day and on the next: two
    # claims share a span exactly when their days are at most a day apart (as in the tolerance)
    claim_of = np.concatenate([small, small])
    span = combine(prov[claim_of], np.concatenate([day[small], day[small] + 1]))
    span_rank = np.concatenate([2 * rank[small], 2 * rank[small] + 1])
    span_t = sub_s[claim_of]
    row, other = _pairs_of_other_persons(
        Groups(span, span_rank, span_t), span_t, spread, person, claim_of
    )
    if len(row) == 0:
        return out
    occasion = np.minimum(day[row], day[other])
    who = np.concatenate([person[row], person[other]])
    whom = np.concatenate([person[other], person[row]])
    at = np.concatenate([row, row])
    forward = np.concatenate([np.ones(len(row), dtype=bool), np.zeros(len(row), dtype=bool)])
    records = pd.DataFrame(
        {
            "p": prov[at],
            "who": who,
            "whom": whom,
            "occ": np.concatenate([occasion, occasion]),
            "at": at,
            "fwd": forward,
        }
    ).sort_values(["at", "fwd"], kind="stable")
    records = records.drop_duplicates(["p", "who", "whom", "occ"], keep="first")
    r_at = records["at"].to_numpy()
    r_t = sub_s[r_at]
    occ = records["occ"].to_numpy().astype("float64")
    pair = combine(records["p"].to_numpy(), records["who"].to_numpy(), records["whom"].to_numpy())
    g_pair = Groups(pair, rank[r_at], r_t)
    lowest = g_pair.window_min(occ, r_t, width)
    highest = g_pair.window_max(occ, r_t, width)
    linked = (lowest <= occ - OCCASION_GAP_DAYS) | (highest >= occ + OCCASION_GAP_DAYS)
    fwd = records["fwd"].to_numpy()
    mine = records.loc[fwd & linked, ["at", "whom"]].drop_duplicates()
    out["repeat"] = np.bincount(mine["at"].to_numpy(), minlength=n).astype("float64")
    out["partners"] = _distinct_partners(records.loc[linked], s, width)
    return out


def prepare(ctx: Context, norms: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Intermediate columns of the network family for the target claims."""
    tc = ctx.target_claims()
    w = Columns(np.arange(len(tc)))
    history = EntityHistory(ctx, "provider")
    s, time = history.claims, history.time
    day = np.nan_to_num(s["ss_day"].to_numpy(), nan=-1).astype("int64")
    same_day = history.grouped_by(day)
    w["same_day_patients"] = history.at_targets(same_day.window_count(time, LOOKBACK_S))
    if "person_graph" in norms:  # claims_v1: the graph fitted on the training window
        w.update(_fitted_graph(tc, norms))
    g = history.groups
    claims_90d = g.window_count(time, 90 * DAY_S)

    def share_90d(repeat: np.ndarray) -> np.ndarray:
        """Share of the provider's claims of the previous 90 days with a repeat co-visitor."""
        with_repeat = (repeat > 0).astype("float64")
        return history.at_targets(
            safe_ratio(g.window_sum(with_repeat, time, 90 * DAY_S), claims_90d)
        )

    cv = covisits(s)
    w["repeat_covisitors"] = history.at_targets(cv["repeat"])
    w["covisit_partners_180d"] = history.at_targets(cv["partners"])
    w["repeat_covisit_share_90d"] = share_90d(cv["repeat"])
    near = covisits_within_a_day(s)
    w["repeat_covisitors_near"] = history.at_targets(near["repeat"])
    w["covisit_partners_near"] = history.at_targets(near["partners"])
    w["repeat_covisit_share_near_90d"] = share_90d(near["repeat"])
    return w.frame()


def _fitted_graph(tc: pd.DataFrame, norms: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The claims_v1 graph columns of the target claims: the person and provider graphs fitted
    on the training window."""
    has = tc["provider"].to_numpy() >= 0
    pgraph, vgraph = norms["person_graph"], norms["provider_graph"]
    if "person_graph_key" in norms:
        key = str(norms["person_graph_key"]["hash_key"].iloc[0])
        pa = _person_positions(pgraph, key, tc["person_id"])
    else:  # a model fitted before the graph was keyed by hash holds the ids in clear: still read
        index = key_index(pgraph, "person_id", "person_graph", cache=True)
        pa = join_positions(index, tc["person_id"])
    va = join_positions(
        key_index(vgraph, "provider_id", "provider_graph", cache=True), tc["provider_id"]
    )
    w = Columns(np.arange(len(tc)))
    partners, component = take(pgraph["partners"], pa), take(pgraph["component"], pa)
    w["partners"] = np.where(np.isnan(partners), 0.0, partners)
    w["component"] = np.where(np.isnan(component), 1.0, component)
    w["density"] = np.where(has, take(vgraph["density"], va), np.nan)
    w["community"] = np.where(has, take(vgraph["community"], va), np.nan)
    w["patients"] = np.where(has, take(vgraph["patients"], va), np.nan)
    return w.frame()


# --- features -------------------------------------------------------------------------------


@feature(
    "network",
    entity=Entity.PERSON,
    aggregate=Aggregate.FITTED_PROFILE,
    norms=("person_graph",),
    reason="the claimant repeatedly visited providers on the same days as {value:.0f} other "
    "patients",
    unit="persons",
)
def covisit_partners(w: pd.DataFrame) -> np.ndarray:
    """Other persons with whom the claimant shared at least two small same-day visits to the same
    provider in the training window: recruited patients travelling together."""
    return w["partners"].to_numpy(dtype="float64")


@feature(
    "network",
    entity=Entity.PERSON,
    aggregate=Aggregate.FITTED_PROFILE,
    norms=("person_graph",),
    reason="the claimant belongs to a co-visiting group of {value:.0f} persons",
    unit="persons",
)
def covisit_group_size(w: pd.DataFrame) -> np.ndarray:
    """Size of the connected group of persons linked by repeated same-day co-visits in the
    training window (1 when the claimant has no such links): ring membership."""
    return w["component"].to_numpy(dtype="float64")


@feature(
    "network",
    entity=Entity.PROVIDER,
    aggregate=Aggregate.FITTED_PROFILE,
    norms=("provider_graph",),
    reason="{value:.0%} of the provider's patients also use one other specific provider",
    unit="share",
)
def provider_shared_patient_density(w: pd.DataFrame) -> np.ndarray:
    """Largest share of the provider's training-window patients that also visited one single other
    provider: a clinic and a pharmacy working together on the same patients."""
    return w["density"].to_numpy(dtype="float64")


@feature(
    "network",
    entity=Entity.PROVIDER,
    aggregate=Aggregate.FITTED_PROFILE,
    norms=("provider_graph",),
    reason="the provider is in a community of {value:.0f} providers sharing patients",
    unit="providers",
)
def provider_community_size(w: pd.DataFrame) -> np.ndarray:
    """Number of providers in the provider's Louvain community of the shared-patient graph
    (training window, links of at least three shared patients)."""
    return w["community"].to_numpy(dtype="float64")


@feature(
    "network",
    entity=Entity.PROVIDER,
    aggregate=Aggregate.COUNT,
    window=days(365),
    by=("service_day",),
    reason="{value:.0f} other patients were seen by this provider on the same day",
    unit="patients",
)
def same_day_copatients(w: pd.DataFrame) -> np.ndarray:
    """Earlier-submitted claims at the same provider for the same service day (any benefit,
    submitted within a year before this one): co-admission bursts."""
    return w["same_day_patients"].to_numpy(dtype="float64")


# --- claims_v2: co-visits as they happen ----------------------------------------------------


@feature(
    "network",
    entity=Entity.COVISIT_PAIR,
    aggregate=Aggregate.COUNT,
    window=days(180),
    by=("provider", "service_day"),
    reason="{value:.0f} patients seen here the same day were here with the claimant on another "
    "day in the past 6 months",
    unit="persons",
)
def repeat_covisitors_same_day(w: pd.DataFrame) -> np.ndarray:
    """Claimants of earlier-submitted claims at the same provider for the same service day who
    had already shared another small same-day visit to it with this claimant in the past 180
    days: a group of recruited patients coming back together (rolling, so a ring that forms
    after training is seen from its second visit)."""
    return w["repeat_covisitors"].to_numpy(dtype="float64")


@feature(
    "network",
    entity=Entity.COVISIT_PAIR,
    aggregate=Aggregate.DISTINCT,
    window=days(180),
    by=("provider",),
    reason="the claimant repeatedly visited this provider on the same days as {value:.0f} other "
    "patients",
    unit="persons",
)
def covisit_partners_180d(w: pd.DataFrame) -> np.ndarray:
    """Other persons with whom the claimant shared at least two small same-day visits to this
    provider in the past 180 days, up to this claim: recruited patients travelling together."""
    return w["covisit_partners_180d"].to_numpy(dtype="float64")


@feature(
    "network",
    entity=Entity.PROVIDER,
    aggregate=Aggregate.SHARE,
    window=days(90),
    reason="{value:.0%} of the provider's claims in the last 90 days came with repeat co-visitors",
    unit="share",
)
def provider_repeat_covisit_share_90d(w: pd.DataFrame) -> np.ndarray:
    """Share of the provider's claims of the previous 90 days whose claimant came on the same
    day as someone they had come with before: a provider whose patients arrive in groups."""
    return w["repeat_covisit_share_90d"].to_numpy(dtype="float64")


# --- claims_v2, added: co-visits within a day -------------------------------------------------


@feature(
    "network",
    entity=Entity.COVISIT_PAIR,
    aggregate=Aggregate.COUNT,
    window=days(180),
    by=("provider", "service_day"),
    reason="{value:.0f} patients seen here within a day of the claimant have come here with them "
    "on another occasion in the past 6 months",
    unit="persons",
)
def repeat_covisitors_within_a_day(w: pd.DataFrame) -> np.ndarray:
    """Claimants of earlier-submitted claims at the same provider for a service day within one
    day of this one who had already come to it within a day of this claimant on another
    occasion (days at least 3 apart) in the past 180 days: a recruited group coming back
    together, also when it is spread over two days (rolling, so a ring at a new provider is seen
    from its second visit)."""
    return w["repeat_covisitors_near"].to_numpy(dtype="float64")


@feature(
    "network",
    entity=Entity.COVISIT_PAIR,
    aggregate=Aggregate.DISTINCT,
    window=days(180),
    by=("provider",),
    reason="the claimant repeatedly came to this provider within a day of {value:.0f} other "
    "patients",
    unit="persons",
)
def covisit_partners_within_a_day_180d(w: pd.DataFrame) -> np.ndarray:
    """Other persons who came to this provider within one day of the claimant on at least two
    occasions (days at least 3 apart) in the past 180 days, up to this claim: the claimant's
    group of recruited patients."""
    return w["covisit_partners_near"].to_numpy(dtype="float64")


@feature(
    "network",
    entity=Entity.PROVIDER,
    aggregate=Aggregate.SHARE,
    window=days(90),
    reason="{value:.0%} of the provider's claims in the last 90 days came with patients who "
    "come in a group",
    unit="share",
)
def provider_group_visit_share_90d(w: pd.DataFrame) -> np.ndarray:
    """Share of the provider's claims of the previous 90 days whose claimant came within a day of
    someone they had come with on another occasion: a provider whose patients arrive in groups,
    also when a group is spread over two days."""
    return w["repeat_covisit_share_near_90d"].to_numpy(dtype="float64")
