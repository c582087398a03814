import pytest

from credit_coop.core.errors import InvalidInput, NotFound
from credit_coop.core.policy import Policy, default_policy_text, load_policy_file


@pytest.fixture(scope="module")
def policy():
    return load_policy_file(None)


def test_shipped_products_match_spec(policy):
    p = policy.products
    assert (p["hnd"]["ceiling"], p["hnd"]["max_term_months"]) == (10_000_000, 36)
    assert p["sdt"]["ceiling"] == 20_000_000 and "guaranteed" in p["sdt"]["security"]
    assert p["gxd"]["ceiling"] == 30_000_000
    assert p["pos"]["ceiling"] == 20_000_000 and p["pos"]["eligible_kinds"] == ["pos-merchant"]


def test_product_lookup_by_code_and_chinese_name(policy):
    assert policy.product("惠农贷")["code"] == "hnd"
    assert policy.product("HND")["code"] == "hnd"
    assert policy.product("公薪消费贷")["code"] == "gxd"
    with pytest.raises(NotFound, match="known products"):
        policy.product("xyz")


@pytest.mark.parametrize(
    "fen,role",
    [
        (30_000_000, "dept-head"),          # exactly 300,000.00: 以下 includes it
        (30_000_001, "deputy-director"),    # 300,000.01
        (50_000_000, "deputy-director"),    # exactly 500,000.00
        (50_000_001, "committee"),          # 500,000.01
        (1, "dept-head"),
    ],
)
def test_tiers_inclusive(policy, fen, role):
    assert policy.tier_for(fen)["role"] == role


def test_tiers_exclusive_switch(policy):
    data = dict(policy.data, thresholds={"inclusive": False})
    strict = Policy(data)
    assert strict.tier_for(30_000_000)["role"] == "deputy-director"
    assert strict.tier_for(29_999_999)["role"] == "dept-head"
    assert strict.tier_for(50_000_000)["role"] == "committee"


def _with(tmp_path, old, new):
    text = default_policy_text()
    assert old in text
    path = tmp_path / "p.toml"
    path.write_text(text.replace(old, new, 1), "utf-8")
    return str(path)


def test_bad_policy_files_are_refused(tmp_path):
    with pytest.raises(InvalidInput, match="ascending"):
        load_policy_file(_with(tmp_path, 'up_to = "50万"', 'up_to = "20万"'))
    with pytest.raises(InvalidInput, match="not valid TOML"):
        load_policy_file(_with(tmp_path, "[approval]", "[approval"))
    with pytest.raises(InvalidInput, match="grade caps"):
        load_policy_file(_with(tmp_path, '"优秀" = "10万"', '"优秀" = "12万"'))
    with pytest.raises(InvalidInput, match="cannot read"):
        load_policy_file(str(tmp_path / "missing.toml"))


def test_extra_product_in_policy(tmp_path):
    extra = '\n[products.dkd]\nname = "大额经营贷"\neligible_kinds = ["business"]\nceiling = "100万"\nmax_term_months = 36\n'
    path = tmp_path / "p.toml"
    path.write_text(default_policy_text() + extra, "utf-8")
    p = load_policy_file(str(path))
    assert p.product("大额经营贷")["ceiling"] == 100_000_000
