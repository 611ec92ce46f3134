"""Build a tiny but real ONNX text-embedding model that fastembed loads and runs.

The hub is unreachable from tests, yet the launcher's job is to download, verify and load a
real model with real fastembed. So the fake hub serves a model made here with `onnx` and
`tokenizers`: a BERT-style WordPiece tokenizer over a few hundred English and robotics words,
and a graph whose output `last_hidden_state` is `[batch, seq, dim]` where every position holds
the attention-masked mean of per-token vectors. Whether fastembed pools with CLS (bge: takes
position 0) or with a masked mean (MiniLM), the result is the same bag-of-words embedding, so
texts that share words land close together and tests can check "similar texts are similar".

Everything is seeded and serialised canonically: the same arguments give the same bytes (and
the same sha256) on every run, so caches built from these files can be reused across runs.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# Function words: kept (they are real text) but given short vectors so they don't dominate.
FUNCTION_WORDS: tuple[str, ...] = _words(
    "a an the and or but if then so of to in on at by for with from about into over under "
    "is are was were be been being am do does did have has had will would can could should "
    "may might must not no yes this that these those it its he she they we you i me my our "
    "your their his her them us what which who whom how why when where there here all any "
    "some each every both few more most other such only own same than too very just also "
    "up down out off again once as while because until after before during through between "
    "keep keeps kept let lets put take takes"
)

# Content words grouped by topic: words of one topic share a topic direction, so e.g.
# "robot" and "humanoid" are closer than "robot" and "onion" even when no word is shared.
TOPIC_WORDS: dict[str, tuple[str, ...]] = {
    "robotics": _words(
        "humanoid robot robots robotic robotics actuator actuators sensor sensors "
        "locomotion balance balancing reinforcement learning simulation simulator ros "
        "kinematics inverse forward dynamics grasping grasp gripper vision lidar camera "
        "torque gait walking walk legged leg legs arm arms joint joints motor motors "
        "servo controller control policy training trained neural network model "
        "embedding embeddings planning planner navigation slam odometry imu encoder "
        "manipulation manipulator autonomous autonomy perception depth pose estimation "
        "trajectory stability stable fall falling recover recovery terrain stairs "
        "foot feet hand hands finger fingers wrist elbow knee hip ankle torso head "
        "battery power firmware hardware software backend server api launcher python"
    ),
    "cooking": _words(
        "cook cooking recipe recipes bake baking oven stove pan pot boil boiling fry "
        "frying onion onions garlic tomato tomatoes pasta sauce salt pepper butter oil "
        "flour sugar bread cake soup kitchen chef dinner lunch breakfast meal taste "
        "delicious spicy sweet chop slice stir simmer roast grill vegetables meat chicken "
        "fish rice egg eggs cheese milk cream lemon herbs basil"
    ),
    "weather": _words(
        "weather rain rainy sun sunny cloud clouds cloudy storm snow wind windy cold hot "
        "warm temperature forecast summer winter spring autumn sky thunder fog"
    ),
    "finance": _words(
        "money bank banks stock stocks market markets price prices invest investment "
        "budget tax taxes loan interest rate rates economy profit revenue cost costs"
    ),
    "general": _words(
        "hello world good bad new old big small fast slow first last long short high low "
        "time day days year years people person man woman child house car city country "
        "work make made use used find found give get go going come see look know think "
        "want need like love help try start stop run runs running test tests today "
        "tomorrow yesterday morning evening night week month number data text document "
        "documents query sentence word words example question answer"
    ),
}

SPECIAL_TOKENS: tuple[str, ...] = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
SUFFIXES: tuple[str, ...] = ("##s", "##es", "##ed", "##ing", "##er", "##ly", "##ion")
PUNCTUATION: tuple[str, ...] = tuple(".,!?;:'\"()-/")
MAX_LENGTH = 512


def vocabulary() -> list[str]:
    """The token list in id order: specials first ([PAD] is id 0, as in BERT)."""
    words: list[str] = list(SPECIAL_TOKENS) + list(PUNCTUATION) + list(SUFFIXES)
    words += FUNCTION_WORDS
    for group in TOPIC_WORDS.values():
        words += group
    seen: set[str] = set()
    ordered: list[str] = []
    for word in words:
        if word not in seen:
            seen.add(word)
            ordered.append(word)
    return ordered


def _embedding_table(vocab: list[str], dim: int, seed: int) -> np.ndarray:
    """Per-token vectors: topic direction + own noise for content words, short for the rest."""
    rng = np.random.RandomState(seed)
    topics = {name: rng.normal(size=dim) for name in TOPIC_WORDS}
    topic_of = {word: name for name, group in TOPIC_WORDS.items() for word in group}
    table = np.zeros((len(vocab), dim), dtype=np.float64)
    for index, token in enumerate(vocab):
        own = rng.normal(size=dim)
        if token in SPECIAL_TOKENS:
            # [CLS]/[SEP] are in every text: a zero vector keeps them from pulling all texts
            # together. [UNK] gets a small vector so an all-unknown text is not all zeros.
            table[index] = own * 0.05 if token == "[UNK]" else 0.0
        elif token in topic_of:
            table[index] = 0.6 * topics[topic_of[token]] + own
        else:  # function words, punctuation, suffixes
            table[index] = 0.1 * own
    return table.astype(np.float32)


def build_tokenizer_json() -> str:
    """A BERT-style WordPiece tokenizer (lower-casing, [CLS] ... [SEP], right padding)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    vocab = vocabulary()
    ids = {token: index for index, token in enumerate(vocab)}
    tokenizer = Tokenizer(
        models.WordPiece(vocab=ids, unk_token="[UNK]", max_input_chars_per_word=100)
    )
    tokenizer.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True
    )
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", ids["[CLS]"]), ("[SEP]", ids["[SEP]"])],
    )
    tokenizer.decoder = decoders.WordPiece(prefix="##")
    tokenizer.add_special_tokens(list(SPECIAL_TOKENS))
    tokenizer.enable_truncation(max_length=MAX_LENGTH)
    tokenizer.enable_padding(
        direction="right", pad_id=ids["[PAD]"], pad_type_id=0, pad_token="[PAD]"
    )
    # Round-trip through json so the text is canonical (sorted keys, fixed separators).
    return json.dumps(json.loads(tokenizer.to_str()), indent=2, sort_keys=True) + "\n"


def build_onnx_model(dim: int = 32, padding_bytes: int = 0, seed: int = 0) -> bytes:
    """Serialise the embedding graph; `padding_bytes` adds a (harmless) filler initializer."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    vocab = vocabulary()
    table = _embedding_table(vocab, dim, seed)
    initializers = [
        numpy_helper.from_array(table, name="word_embeddings"),
        numpy_helper.from_array(np.zeros((2, dim), dtype=np.float32), name="token_type_embeddings"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), name="axis_seq"),
        numpy_helper.from_array(np.array([-1], dtype=np.int64), name="axis_last"),
        numpy_helper.from_array(np.array(1e-9, dtype=np.float32), name="epsilon"),
    ]
    nodes = [
        helper.make_node("Gather", ["word_embeddings", "input_ids"], ["word_vectors"], axis=0),
        helper.make_node(
            "Gather", ["token_type_embeddings", "token_type_ids"], ["type_vectors"], axis=0
        ),
        helper.make_node("Add", ["word_vectors", "type_vectors"], ["token_vectors"]),
        helper.make_node("Cast", ["attention_mask"], ["mask_float"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["mask_float", "axis_last"], ["mask_3d"]),
        helper.make_node("Mul", ["token_vectors", "mask_3d"], ["masked_vectors"]),
        helper.make_node("ReduceSum", ["masked_vectors", "axis_seq"], ["summed"], keepdims=1),
        helper.make_node("ReduceSum", ["mask_3d", "axis_seq"], ["counted"], keepdims=1),
        helper.make_node("Max", ["counted", "epsilon"], ["safe_count"]),
        helper.make_node("Div", ["summed", "safe_count"], ["mean"]),
        helper.make_node("Shape", ["token_vectors"], ["full_shape"]),
    ]
    if padding_bytes > 0:
        # Used (so onnxruntime doesn't warn about a dangling initializer) but contributes 0.
        count = max(1, (padding_bytes + 3) // 4)
        filler = np.random.RandomState(seed + 1).random_sample(count).astype(np.float32)
        initializers += [
            numpy_helper.from_array(filler, name="padding_filler"),
            numpy_helper.from_array(np.array([0], dtype=np.int64), name="zero_start"),
            numpy_helper.from_array(np.array([1], dtype=np.int64), name="one_end"),
            numpy_helper.from_array(np.array(0.0, dtype=np.float32), name="zero_scale"),
        ]
        nodes += [
            helper.make_node("Slice", ["padding_filler", "zero_start", "one_end"], ["filler_one"]),
            helper.make_node("Mul", ["filler_one", "zero_scale"], ["filler_zero"]),
            helper.make_node("Add", ["mean", "filler_zero"], ["mean_out"]),
        ]
        mean_name = "mean_out"
    else:
        mean_name = "mean"
    nodes.append(helper.make_node("Expand", [mean_name, "full_shape"], ["last_hidden_state"]))

    def int_input(name: str) -> onnx.ValueInfoProto:
        return helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "sequence"])

    graph = helper.make_graph(
        nodes,
        "fake_bag_of_words_encoder",
        [int_input("input_ids"), int_input("attention_mask"), int_input("token_type_ids")],
        [
            helper.make_tensor_value_info(
                "last_hidden_state", TensorProto.FLOAT, ["batch", "sequence", dim]
            )
        ],
        initializer=initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 13)],
        producer_name="robo-backend-fakehub",
        producer_version="1",
    )
    model.ir_version = 8  # readable by any onnxruntime fastembed supports
    onnx.checker.check_model(model)
    return model.SerializeToString(deterministic=True)


def _json_bytes(value: object) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True) + "\n").encode()


def build_embedding_files(
    *, model_file: str = "model.onnx", dim: int = 32, padding_bytes: int = 0, seed: int = 0
) -> dict[str, bytes]:
    """The repo's files in memory: {repo-relative filename: content}."""
    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_size": dim,
        "max_position_embeddings": MAX_LENGTH,
        "pad_token_id": 0,
        "vocab_size": len(vocabulary()),
        "_comment": "Fake model built by tests/fakehub/builder.py for loopback tests.",
    }
    tokenizer_config = {
        "tokenizer_class": "BertTokenizer",
        "do_lower_case": True,
        "model_max_length": MAX_LENGTH,
        "pad_token": "[PAD]",
        "unk_token": "[UNK]",
        "cls_token": "[CLS]",
        "sep_token": "[SEP]",
        "mask_token": "[MASK]",
        "padding_side": "right",
    }
    special_tokens = {
        "cls_token": "[CLS]",
        "mask_token": "[MASK]",
        "pad_token": "[PAD]",
        "sep_token": "[SEP]",
        "unk_token": "[UNK]",
    }
    return {
        "config.json": _json_bytes(config),
        "special_tokens_map.json": _json_bytes(special_tokens),
        "tokenizer.json": build_tokenizer_json().encode(),
        "tokenizer_config.json": _json_bytes(tokenizer_config),
        model_file: build_onnx_model(dim=dim, padding_bytes=padding_bytes, seed=seed),
    }


def build_embedding_model(
    dest: Path,
    *,
    model_file: str = "model.onnx",
    dim: int = 32,
    padding_bytes: int = 0,
    seed: int = 0,
) -> dict[str, bytes]:
    """Write the model's files under `dest` and return {repo-relative filename: content}."""
    files = build_embedding_files(
        model_file=model_file, dim=dim, padding_bytes=padding_bytes, seed=seed
    )
    dest = Path(dest)
    for name, content in files.items():
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return files
