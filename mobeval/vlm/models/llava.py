"""The `digits-clip` toy VLM in every runner's format: llama.cpp's (text GGUF + mmproj GGUF + LoRA adapter GGUF),
transformers' LLaVA, and the hybrid runner's parts (tower ONNX + projector .npz).

The model (scripts/train_digits_clip_vlm.py trains stage 1, scripts/train_digits_clip_stage2.py stage 2;
mobeval/vlm/models/parts/digits-clip.card.json says what it can and cannot do): a small ViT trained here on
scikit-learn's digits, LLaVA-1.5's two-layer MLP projector, and SmolLM2-135M-Instruct (the bundled Q4_1 GGUF)
with a LoRA adapter (mobeval.vlm.models.lora) as the language model. One set of weights
(digits-clip-vision.safetensors, LLaVA names) is written as

  - an mmproj GGUF (`write_mmproj`) that llama.cpp's libmtmd loads with projector type "mlp",
  - a transformers `LlavaForConditionalGeneration` folder (`hf_llava_folder`, the adapter merged),
    materialised once in the cache, and
  - the hybrid runner's parts: the tower as ONNX (`tower_onnx`, cached) and the projector as .npz
    (`write_hybrid_projector`).

The vision tower is SigLIP-architecture (no class token): clip.cpp's llava graph (models/llava.cpp in
llama.cpp) appends a class embedding AFTER the patches and returns rows 1..n, while transformers' CLIP puts
it first and LLaVA drops row 0, so a CLS-free tower is the one layout both runtimes compute identically.
Features are the last encoder layer's output, no post-layernorm (GGUF `clip.vision.feature_layer` = [n_layer];
LLaVA `vision_feature_layer` = -1, strategy "full"): one image is (image_size / patch)^2 = 16 tokens.
Both GELUs (the tower's MLP and the projector's) are the tanh approximation, which is what ggml_gelu computes.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np

from mobeval.core.errors import ModelNotAvailable

ALIASES = {"digits-clip": "digits-clip.json"}  # alias -> manifest in mobeval/vlm/models/parts/
IMAGE_TOKEN = "<image>"  # the HF tokenizer's added image token (LlavaProcessor expands it to the image's tokens)
TOWER = "vision_tower.vision_model."  # LLaVA's names for the vision tower's weights
PROJECTOR = "multi_modal_projector."
HF_FOLDER_VERSION = 3  # bump when the folder's layout changes (the cache key includes it)


@dataclass(frozen=True)
class DigitsClipConfig:
    """The vision tower and projector's shape and the image preprocessing both runtimes apply."""

    image_size: int = 64
    patch_size: int = 16
    hidden: int = 192
    layers: int = 4
    heads: int = 3
    ffn: int = 768
    layer_norm_eps: float = 1e-6
    image_mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    image_std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    text_hidden: int = 576  # SmolLM2-135M's embedding width

    @property
    def tokens(self) -> int:
        return (self.image_size // self.patch_size) ** 2

    @classmethod
    def from_json(cls, data: dict) -> DigitsClipConfig:
        fields = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**fields)

    def to_json(self) -> dict:
        return asdict(self)


def siglip_config(cfg: DigitsClipConfig):
    from transformers import SiglipVisionConfig

    return SiglipVisionConfig(hidden_size=cfg.hidden, intermediate_size=cfg.ffn, num_hidden_layers=cfg.layers,
                              num_attention_heads=cfg.heads, num_channels=3, image_size=cfg.image_size,
                              patch_size=cfg.patch_size, hidden_act="gelu_pytorch_tanh",
                              layer_norm_eps=cfg.layer_norm_eps, vision_use_head=False)


# -- preprocessing (what clip.cpp does for a fixed-size "mlp" projector) ----------------------------
def pixel_values(image, cfg: DigitsClipConfig) -> np.ndarray:
    """(3, H, W) float32: RGB, bicubic-resized to image_size if it is not already that size (the digits are
    rendered at 64x64, where both runtimes leave the pixels as they are), /255, then (x - mean) / std."""
    from PIL import Image

    img = image.convert("RGB")
    if img.size != (cfg.image_size, cfg.image_size):
        img = img.resize((cfg.image_size, cfg.image_size), Image.Resampling.BICUBIC)
    x = np.asarray(img, dtype=np.float32) / 255.0
    x = (x - np.array(cfg.image_mean, dtype=np.float32)) / np.array(cfg.image_std, dtype=np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1))


# -- the vision tower + projector in torch -----------------------------------------------------------
def vision_tower(cfg: DigitsClipConfig):
    """A SiglipVisionModel (untrained) of this shape; the training script trains it."""
    from transformers import SiglipVisionModel

    return SiglipVisionModel(siglip_config(cfg))


class _Projector:  # namespace for the torch module class, built lazily (torch is optional)
    cls = None


def projector(cfg: DigitsClipConfig):
    """LLaVA-1.5's multi_modal_projector: Linear(hidden, text) -> GELU (tanh) -> Linear(text, text)."""
    import torch

    if _Projector.cls is None:
        class MultiModalProjector(torch.nn.Module):
            def __init__(self, c: DigitsClipConfig) -> None:
                super().__init__()
                self.linear_1 = torch.nn.Linear(c.hidden, c.text_hidden)
                self.linear_2 = torch.nn.Linear(c.text_hidden, c.text_hidden)

            def forward(self, x):
                return self.linear_2(torch.nn.functional.gelu(self.linear_1(x), approximate="tanh"))

        _Projector.cls = MultiModalProjector
    return _Projector.cls(cfg)


def image_features(tower, pixels):
    """The tower's last encoder layer, no post-layernorm: (B, tokens, hidden)."""
    return tower(pixel_values=pixels, output_hidden_states=True).hidden_states[-1]


def llava_state(tower, proj) -> dict:
    """Both modules' weights under LlavaForConditionalGeneration's (legacy, llava-hf) names."""
    out = {}
    for k, v in tower.state_dict().items():  # transformers 5 keeps no "vision_model." level in the module
        out[TOWER + k.removeprefix("vision_model.")] = v
    for k, v in proj.state_dict().items():
        out[PROJECTOR + k] = v
    return out


def tower_state(state: dict) -> dict:
    """The shipped (llava-hf named) tower weights under SiglipVisionModel's own names."""
    return {k[len(TOWER):]: v for k, v in state.items() if k.startswith(TOWER)}


def load_torch_parts(safetensors_path: Path, cfg: DigitsClipConfig):
    """(tower, projector) in float32 with the shipped weights, eval mode, no gradients."""
    from safetensors.torch import load_file

    state = {k: v.float() for k, v in load_file(str(safetensors_path)).items()}
    tower, proj = vision_tower(cfg), projector(cfg)
    tower.load_state_dict(tower_state(state))
    proj.load_state_dict({k[len(PROJECTOR):]: v for k, v in state.items() if k.startswith(PROJECTOR)})
    return tower.eval().requires_grad_(False), proj.eval().requires_grad_(False)


# -- llama.cpp's mmproj GGUF ---------------------------------------------------------------------------
def _gguf_tensors(state: dict, cfg: DigitsClipConfig) -> dict[str, np.ndarray]:
    """LLaVA-named float arrays -> clip.cpp's tensor names; matrices and the patch kernel float16,
    vectors (norms, biases) and the position table float32."""
    def arr(name: str) -> np.ndarray:
        v = state[name]
        return v.detach().float().numpy() if hasattr(v, "detach") else np.asarray(v, dtype=np.float32)

    emb = TOWER + "embeddings."
    out = {
        "v.patch_embd.weight": arr(emb + "patch_embedding.weight").astype(np.float16),
        "v.patch_embd.bias": arr(emb + "patch_embedding.bias"),
        "v.position_embd.weight": arr(emb + "position_embedding.weight"),
    }
    parts = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
             "self_attn.out_proj": "attn_out", "layer_norm1": "ln1", "layer_norm2": "ln2",
             "mlp.fc1": "ffn_up", "mlp.fc2": "ffn_down"}
    for il in range(cfg.layers):
        for hf, gg in parts.items():
            for kind in ("weight", "bias"):
                a = arr(f"{TOWER}encoder.layers.{il}.{hf}.{kind}")
                out[f"v.blk.{il}.{gg}.{kind}"] = a.astype(np.float16) if a.ndim == 2 else a
    for hf, gg in (("linear_1", "mm.0"), ("linear_2", "mm.2")):
        out[f"{gg}.weight"] = arr(f"{PROJECTOR}{hf}.weight").astype(np.float16)
        out[f"{gg}.bias"] = arr(f"{PROJECTOR}{hf}.bias")
    return out


def write_mmproj(path: Path, state: dict, cfg: DigitsClipConfig, name: str, description: str) -> Path:
    """The tower + projector as a clip.cpp mmproj (architecture "clip", projector type "mlp" = LLaVA-1.5)."""
    import gguf

    w = gguf.GGUFWriter(str(path), "clip")
    w.add_name(name)
    w.add_description(description)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    w.add_bool("clip.has_vision_encoder", True)
    w.add_bool("clip.has_audio_encoder", False)
    w.add_string("clip.projector_type", "mlp")
    w.add_bool("clip.use_gelu", True)  # the tower's MLP: GELU (tanh form), not CLIP's quick_gelu
    w.add_uint32("clip.vision.image_size", cfg.image_size)
    w.add_uint32("clip.vision.patch_size", cfg.patch_size)
    w.add_uint32("clip.vision.embedding_length", cfg.hidden)
    w.add_uint32("clip.vision.feed_forward_length", cfg.ffn)
    w.add_uint32("clip.vision.block_count", cfg.layers)
    w.add_uint32("clip.vision.projection_dim", cfg.text_hidden)
    w.add_uint32("clip.vision.attention.head_count", cfg.heads)
    w.add_float32("clip.vision.attention.layer_norm_epsilon", cfg.layer_norm_eps)
    w.add_array("clip.vision.image_mean", [float(v) for v in cfg.image_mean])
    w.add_array("clip.vision.image_std", [float(v) for v in cfg.image_std])
    # the last layer's output (clip.cpp's default for "mlp" is the second-to-last, LLaVA-1.5's choice)
    w.add_array("clip.vision.feature_layer", [cfg.layers])
    for tname, a in _gguf_tensors(state, cfg).items():
        w.add_tensor(tname, np.ascontiguousarray(a))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


# -- the manifest ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DigitsClipFiles:
    manifest: Path
    mmproj: Path
    hf_vision: Path
    hf_config: Path
    card: Path
    lora: Path | None  # the stage-2 LoRA adapter (llama.cpp GGUF), merged into the LM of the LLaVA folder
    lm_alias: str
    config: DigitsClipConfig
    data: dict[str, Any]


def parts_dir() -> Path:
    return Path(str(files("mobeval.vlm.models").joinpath("parts")))


def load_manifest(manifest_or_alias: str = "digits-clip") -> DigitsClipFiles:
    path = parts_dir() / ALIASES[manifest_or_alias] if manifest_or_alias in ALIASES else Path(manifest_or_alias)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelNotAvailable(f"{path}: not a readable digits-clip manifest ({exc}); aliases: "
                                f"{', '.join(ALIASES)}") from exc
    root = path.parent
    missing = [k for k in ("lm", "mmproj", "hf_vision", "hf_config") if not isinstance(data.get(k), str)]
    if missing:
        raise ModelNotAvailable(f"{path}: the manifest lacks {', '.join(missing)} (see mobeval/vlm/models/llava.py)")
    files = {k: root / data[k] for k in ("mmproj", "hf_vision", "hf_config", "card")}
    absent = [str(p) for p in files.values() if not p.is_file()]
    if absent:
        raise ModelNotAvailable(f"{path}: missing {', '.join(absent)}; rerun scripts/train_digits_clip_vlm.py "
                                "or reinstall mobeval")
    lora = root / data["lora"] if isinstance(data.get("lora"), str) else None
    if lora is not None and not lora.is_file():
        raise ModelNotAvailable(f"{path}: the LoRA adapter {lora} is missing; rerun "
                                "scripts/train_digits_clip_stage2.py or reinstall mobeval")
    cfg = DigitsClipConfig.from_json(json.loads(files["hf_config"].read_text(encoding="utf-8")))
    return DigitsClipFiles(manifest=path, lm_alias=data["lm"], config=cfg, data=data, lora=lora, **files)


# -- the transformers LLaVA folder ----------------------------------------------------------------------
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
    "{% for item in message['content'] %}{% if item['type'] == 'image' %}<image>"
    "{% elif item['type'] == 'text' %}{{ item['text'] }}{% endif %}{% if not loop.last %}{{ '\\n' }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def hf_llava_folder(manifest_or_alias: str = "digits-clip") -> Path:
    """A folder that `AutoProcessor.from_pretrained` and `LlavaForConditionalGeneration.from_pretrained` load:
    the shipped tower + projector, SmolLM2 dequantized from the bundled GGUF with the manifest's LoRA adapter
    merged in (the same adapter file llama.cpp loads; mobeval.vlm.models.lora), its tokenizer with IMAGE_TOKEN
    added (id = the LM's vocabulary size; embedding rows resized, the new row the mean of the others: the
    token is always replaced by image features, never read as text), a LlavaProcessor whose image processor
    (PIL backend, no torchvision) resizes/normalises as libmtmd does, and a ChatML chat template whose user
    turn is the one libmtmd is given. Built once, cached under mobeval's cache dir by the parts' sha256."""
    from mobeval.core.hashing import file_sha256, text_sha256
    from mobeval.core.paths import cache_dir
    from mobeval.text.models.registry import resolve as resolve_lm

    files = load_manifest(manifest_or_alias)
    spec, gguf_path = resolve_lm(files.lm_alias, fetch=False)
    key = text_sha256("|".join([str(HF_FOLDER_VERSION), file_sha256(files.hf_vision), file_sha256(files.hf_config),
                                spec.sha256 or file_sha256(Path(gguf_path)),
                                file_sha256(files.lora) if files.lora else "no-lora"]))[:16]
    out = cache_dir() / "hf-llava" / f"digits-clip-{key}"
    if (out / "done").is_file():
        return out
    _build_hf_folder(out, files, Path(gguf_path))
    (out / "done").write_text("ok\n", encoding="utf-8")
    return out


def _build_hf_folder(out: Path, files: DigitsClipFiles, gguf_path: Path) -> None:
    import torch
    import transformers
    from safetensors.torch import load_file

    cfg = files.config
    out.mkdir(parents=True, exist_ok=True)
    tok = transformers.AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
    tok.add_tokens([IMAGE_TOKEN], special_tokens=True)
    image_id = tok.convert_tokens_to_ids(IMAGE_TOKEN)
    lm = transformers.AutoModelForCausalLM.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name,
                                                           dtype="float32")
    if image_id != lm.config.vocab_size:
        raise ModelNotAvailable(f"{gguf_path}: the image token got id {image_id}, expected {lm.config.vocab_size}")
    if files.lora is not None:
        from mobeval.vlm.models.lora import merge_into

        merge_into(lm, files.lora)
    config = transformers.LlavaConfig(
        vision_config=siglip_config(cfg).to_dict(), text_config=lm.config.to_dict(), image_token_index=image_id,
        projector_hidden_act="gelu_pytorch_tanh", vision_feature_select_strategy="full", vision_feature_layer=-1,
        image_seq_length=cfg.tokens, multimodal_projector_bias=True, tie_word_embeddings=lm.config.tie_word_embeddings,
    )
    model = transformers.LlavaForConditionalGeneration(config).eval()
    model.model.language_model.load_state_dict(lm.model.state_dict())
    if not config.tie_word_embeddings:
        model.lm_head.load_state_dict(lm.lm_head.state_dict())
    vision = {k: v.float() for k, v in load_file(str(files.hf_vision)).items()}
    model.model.vision_tower.load_state_dict(tower_state(vision))
    model.model.multi_modal_projector.load_state_dict({k[len(PROJECTOR):]: v for k, v in vision.items()
                                                       if k.startswith(PROJECTOR)})
    model.resize_token_embeddings(image_id + 1, mean_resizing=False)
    with torch.no_grad():
        emb = model.get_input_embeddings().weight
        emb[image_id] = emb[:image_id].mean(0)
    model.tie_weights()
    model.generation_config.eos_token_id = tok.convert_tokens_to_ids("<|im_end|>")
    model.generation_config.pad_token_id = model.generation_config.eos_token_id
    model.save_pretrained(str(out))
    image_processor = transformers.CLIPImageProcessorPil(
        do_resize=True, size={"shortest_edge": cfg.image_size}, resample=3,  # PIL bicubic
        do_center_crop=True, crop_size={"height": cfg.image_size, "width": cfg.image_size},
        do_rescale=True, rescale_factor=1 / 255, do_normalize=True, image_mean=list(cfg.image_mean),
        image_std=list(cfg.image_std), do_convert_rgb=True)
    processor = transformers.LlavaProcessor(
        image_processor=image_processor, tokenizer=tok, patch_size=cfg.patch_size,
        vision_feature_select_strategy="full", num_additional_image_tokens=0, image_token=IMAGE_TOKEN,
        chat_template=CHAT_TEMPLATE)
    processor.save_pretrained(str(out))


# -- the hybrid runner's parts: the tower as ONNX, the projector as .npz -----------------------------------
def hybrid_preprocess(cfg: DigitsClipConfig):
    """`pixel_values` as the hybrid runner's PreprocessSpec: a 64x64 digit is left as it is, another size is
    resized bicubically (the short side, then a centre crop: the same for a square image)."""
    from mobeval.vision.task.preprocess import PreprocessSpec

    return PreprocessSpec(crop=cfg.image_size, resize_short=cfg.image_size, interpolation="bicubic",
                          mean=cfg.image_mean, std=cfg.image_std,
                          source="digits-clip: RGB, bicubic to 64x64 unless already, /255, (x-0.5)/0.5")


def write_hybrid_projector(path: Path, state: dict, cfg: DigitsClipConfig, lm_alias: str, lm_sha256: str | None,
                           prefix: str, suffix: str) -> Path:
    """The LLaVA projector's weights (as shipped, f16) in the hybrid runner's .npz: no standardisation (mean 0,
    std 1), Linear -> GELU (tanh) -> Linear, with the meta the runner checks."""
    from mobeval.vlm.runners import projector as projector_io

    def arr(name: str) -> np.ndarray:
        v = state[PROJECTOR + name]
        return v.detach().float().numpy() if hasattr(v, "detach") else np.asarray(v, np.float32)

    spec = hybrid_preprocess(cfg)
    arrays = {"mean": np.zeros(cfg.hidden, np.float32), "std": np.ones(cfg.hidden, np.float32),
              "w1": arr("linear_1.weight").T, "b1": arr("linear_1.bias"),
              "w2": arr("linear_2.weight").T, "b2": arr("linear_2.bias")}
    meta = {"encoder": "digits-clip-tower", "encoder_features": cfg.hidden, "encoder_tokens": cfg.tokens,
            "lm": lm_alias, "lm_sha256": lm_sha256, "n_embd": cfg.text_hidden, "prefix": prefix, "suffix": suffix,
            "preprocess": spec.model_dump(exclude={"source"}), "preprocess_sha256": spec.sha256(),
            "trained_by": "scripts/train_digits_clip_vlm.py, scripts/train_digits_clip_stage2.py"}
    projector_io.save(path, arrays, meta)
    return path


def tower_onnx(manifest_or_alias: str = "digits-clip") -> Path:
    """The shipped vision tower (its last layer's 16 tokens, no post-layernorm) as an ONNX file with input
    `pixels` (N, 3, 64, 64) and output `features` (N, 16, 192): exported once from the safetensors, cached by
    their hash; the hybrid runner appends the projector to it."""
    import torch

    from mobeval.core.hashing import file_sha256, text_sha256
    from mobeval.vision.models.registry import ONNX_OPSET, export_cache_dir
    from mobeval.vlm.models.encoder import export_features_onnx

    files = load_manifest(manifest_or_alias)
    key = text_sha256("|".join([file_sha256(files.hf_vision), "tower-features", f"opset{ONNX_OPSET}",
                                f"torch{torch.__version__}"]))
    target = export_cache_dir() / f"digits-clip-tower-{key[:16]}.onnx"
    if target.is_file():
        return target
    tower, _ = load_torch_parts(files.hf_vision, files.config)
    tower.config._attn_implementation = "eager"  # plain MatMul/Softmax nodes, what every ONNX exporter handles

    class Features(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.tower = tower

        def forward(self, x):
            return image_features(self.tower, x)

    return export_features_onnx(Features(), files.config.image_size, target,
                                f"digits-clip tower {files.hf_vision}")
