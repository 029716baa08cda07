"""convert() on model definitions of transformers, diffusers and torchvision, built from small
configs with no pretrained weights: the second, optional zoo.

Each model is built at a small size (a few layers, a few dozen channels; nothing is downloaded),
put in eval mode and given one seeded input of the form its forward takes (token ids, pixel
values, audio, a latent and a timestep, a list of images for detection). Then, as in
``benchmarks.zoo``: ``convert(reinit=False)`` without an input (torch.fx, or the model's declared
example input where tracing fails) and with ``example_inputs``, each layer checked against the
aten-level ground truth (``_zoo_truth``); outputs bit-identical after conversion; ``to_torch`` and
a strict ``load_state_dict`` into a fresh instance gives them again.

Runs in the zoo venv (torch with torchvision, transformers, diffusers), out of the default tests:
``python -m benchmarks zoo_hf``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from benchmarks.zoo import check_model, crashed, markdown, report

Inputs = tuple[tuple[Any, ...], dict[str, Any]]


def _ids(length: int = 8) -> Tensor:
    return torch.randint(3, 99, (1, length), generator=torch.Generator().manual_seed(0))


def _image(size: int = 32, channels: int = 3, batch: int = 1) -> Tensor:
    return torch.randn(batch, channels, size, size, generator=torch.Generator().manual_seed(0))


def _text(cls: str, config: str, **options: Any) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        import transformers

        config_object = getattr(transformers, config)(**options)
        return getattr(transformers, cls)(config_object)  # type: ignore[no-any-return]

    return build


_TEXT = {"vocab_size": 100, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2}
_VISION = {
    **{k: v for k, v in _TEXT.items() if k != "vocab_size"},
    "image_size": 32,
    "patch_size": 8,
}


def _transformers() -> dict[str, tuple[Callable[[], nn.Module], Callable[[], Inputs]]]:
    ids: Callable[[], Inputs] = lambda: ((), {"input_ids": _ids()})  # noqa: E731
    pixels: Callable[[], Inputs] = lambda: ((), {"pixel_values": _image()})  # noqa: E731
    audio: Callable[[], Inputs] = lambda: (  # noqa: E731
        (),
        {"input_values": torch.randn(1, 800, generator=torch.Generator().manual_seed(0))},
    )
    wav = {
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 64,
        "conv_dim": (16, 16),
        "conv_stride": (5, 2),
        "conv_kernel": (10, 3),
        "num_conv_pos_embeddings": 16,
        "num_conv_pos_embedding_groups": 2,
    }
    return {
        "bert": (_text("BertModel", "BertConfig", intermediate_size=64, **_TEXT), ids),
        "albert (gelu_new)": (
            _text("AlbertModel", "AlbertConfig", embedding_size=16, intermediate_size=64, **_TEXT),
            ids,
        ),
        "distilbert": (
            _text(
                "DistilBertModel",
                "DistilBertConfig",
                vocab_size=100,
                dim=32,
                n_layers=2,
                n_heads=2,
                hidden_dim=64,
            ),
            ids,
        ),
        "roberta": (_text("RobertaModel", "RobertaConfig", intermediate_size=64, **_TEXT), ids),
        "gpt-neo (gelu_new)": (
            _text(
                "GPTNeoModel",
                "GPTNeoConfig",
                vocab_size=100,
                hidden_size=32,
                num_layers=2,
                num_heads=2,
                attention_types=[[["global", "local"], 1]],
                intermediate_size=64,
            ),
            ids,
        ),
        "llama (swiglu)": (
            _text(
                "LlamaModel", "LlamaConfig", intermediate_size=64, num_key_value_heads=2, **_TEXT
            ),
            ids,
        ),
        "gemma (geglu tanh)": (
            _text(
                "GemmaModel",
                "GemmaConfig",
                intermediate_size=64,
                num_key_value_heads=2,
                head_dim=16,
                **_TEXT,
            ),
            ids,
        ),
        "t5 (gated-gelu)": (
            _text(
                "T5Model",
                "T5Config",
                vocab_size=100,
                d_model=32,
                d_kv=16,
                d_ff=64,
                num_layers=2,
                num_heads=2,
                feed_forward_proj="gated-gelu",
            ),
            lambda: ((), {"input_ids": _ids(), "decoder_input_ids": _ids(4)}),
        ),
        "bart": (
            _text(
                "BartModel",
                "BartConfig",
                vocab_size=100,
                d_model=32,
                encoder_layers=1,
                decoder_layers=1,
                encoder_attention_heads=2,
                decoder_attention_heads=2,
                encoder_ffn_dim=64,
                decoder_ffn_dim=64,
            ),
            ids,
        ),
        "clip text (quick_gelu)": (
            _text("CLIPTextModel", "CLIPTextConfig", intermediate_size=64, **_TEXT),
            ids,
        ),
        "clip vision (quick_gelu)": (
            _text("CLIPVisionModel", "CLIPVisionConfig", intermediate_size=64, **_VISION),
            pixels,
        ),
        "vit": (_text("ViTModel", "ViTConfig", intermediate_size=64, **_VISION), pixels),
        "deit": (_text("DeiTModel", "DeiTConfig", intermediate_size=64, **_VISION), pixels),
        "beit": (_text("BeitModel", "BeitConfig", intermediate_size=64, **_VISION), pixels),
        "swin": (
            _text(
                "SwinModel",
                "SwinConfig",
                image_size=32,
                patch_size=4,
                embed_dim=16,
                depths=[1, 1],
                num_heads=[2, 2],
                window_size=4,
            ),
            pixels,
        ),
        "convnext": (
            _text(
                "ConvNextModel",
                "ConvNextConfig",
                hidden_sizes=[16, 32],
                depths=[1, 1],
                num_stages=2,
            ),
            pixels,
        ),
        "resnet (transformers)": (
            _text(
                "ResNetModel",
                "ResNetConfig",
                embedding_size=16,
                hidden_sizes=[16, 32],
                depths=[1, 1],
                layer_type="bottleneck",
            ),
            pixels,
        ),
        "mobilevit": (
            _text(
                "MobileViTModel",
                "MobileViTConfig",
                image_size=64,
                hidden_sizes=[32, 32, 32],
                neck_hidden_sizes=[8, 8, 16, 16, 24, 24, 32],
            ),
            lambda: ((), {"pixel_values": _image(64)}),
        ),
        "segformer": (
            _text(
                "SegformerForSemanticSegmentation",
                "SegformerConfig",
                num_encoder_blocks=2,
                depths=[1, 1],
                sr_ratios=[2, 1],
                hidden_sizes=[16, 32],
                num_attention_heads=[1, 2],
                patch_sizes=[7, 3],
                strides=[4, 2],
                mlp_ratios=[2, 2],
                decoder_hidden_size=32,
                num_labels=3,
            ),
            pixels,
        ),
        "dpt": (
            _text(
                "DPTForDepthEstimation",
                "DPTConfig",
                hidden_size=32,
                num_hidden_layers=4,
                num_attention_heads=2,
                intermediate_size=64,
                image_size=32,
                patch_size=8,
                backbone_out_indices=[0, 1, 2, 3],
                neck_hidden_sizes=[16, 16, 16, 16],
                fusion_hidden_size=16,
                head_hidden_size=16,
            ),
            pixels,
        ),
        "wav2vec2": (_text("Wav2Vec2Model", "Wav2Vec2Config", **wav), audio),
        "wavlm": (_text("WavLMModel", "WavLMConfig", **wav), audio),
        "whisper": (
            _text(
                "WhisperModel",
                "WhisperConfig",
                vocab_size=100,
                pad_token_id=0,
                bos_token_id=1,
                eos_token_id=2,
                decoder_start_token_id=1,
                d_model=32,
                encoder_layers=1,
                decoder_layers=1,
                encoder_attention_heads=2,
                decoder_attention_heads=2,
                encoder_ffn_dim=64,
                decoder_ffn_dim=64,
                num_mel_bins=16,
                max_source_positions=16,
                max_target_positions=16,
            ),
            lambda: (
                (),
                {
                    "input_features": torch.randn(
                        1, 16, 32, generator=torch.Generator().manual_seed(0)
                    ),
                    "decoder_input_ids": _ids(4),
                },
            ),
        ),
    }


def _diffusers() -> dict[str, tuple[Callable[[], nn.Module], Callable[[], Inputs]]]:
    def build(cls: str, **options: Any) -> Callable[[], nn.Module]:
        def make() -> nn.Module:
            import diffusers

            return getattr(diffusers, cls)(**options)  # type: ignore[no-any-return]

        return make

    timestep = torch.tensor([10])
    return {
        "unet1d": (
            build(
                "UNet1DModel",
                block_out_channels=(32, 32, 64),
                in_channels=2,
                out_channels=2,
                extra_in_channels=64,
            ),
            lambda: (
                (torch.randn(1, 2, 64, generator=torch.Generator().manual_seed(0)), timestep),
                {},
            ),
        ),
        "unet2d": (
            build(
                "UNet2DModel",
                sample_size=16,
                block_out_channels=(32, 64),
                layers_per_block=1,
                down_block_types=("DownBlock2D", "AttnDownBlock2D"),
                up_block_types=("AttnUpBlock2D", "UpBlock2D"),
                norm_num_groups=8,
            ),
            lambda: ((_image(16), timestep), {}),
        ),
        "unet2d conditional (geglu)": (
            build(
                "UNet2DConditionModel",
                sample_size=16,
                block_out_channels=(32, 64),
                layers_per_block=1,
                down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
                cross_attention_dim=32,
                attention_head_dim=8,
                norm_num_groups=8,
                in_channels=4,
                out_channels=4,
            ),
            lambda: (
                (),
                {
                    "sample": _image(16, 4),
                    "timestep": timestep,
                    "encoder_hidden_states": torch.randn(
                        1, 4, 32, generator=torch.Generator().manual_seed(1)
                    ),
                },
            ),
        ),
        "autoencoder kl": (
            build(
                "AutoencoderKL",
                block_out_channels=(32, 64),
                down_block_types=("DownEncoderBlock2D",) * 2,
                up_block_types=("UpDecoderBlock2D",) * 2,
                latent_channels=4,
                norm_num_groups=8,
            ),
            lambda: ((_image(32),), {}),
        ),
        "vq model": (
            build(
                "VQModel",
                block_out_channels=(32, 64),
                down_block_types=("DownEncoderBlock2D",) * 2,
                up_block_types=("UpDecoderBlock2D",) * 2,
                latent_channels=4,
                norm_num_groups=8,
                num_vq_embeddings=16,
            ),
            lambda: ((_image(32),), {}),
        ),
        "dit transformer": (
            build(
                "DiTTransformer2DModel",
                num_attention_heads=2,
                attention_head_dim=8,
                in_channels=4,
                num_layers=1,
                sample_size=8,
                patch_size=2,
                norm_num_groups=8,
                num_embeds_ada_norm=10,
            ),
            lambda: (
                (),
                {
                    "hidden_states": _image(8, 4),
                    "timestep": timestep,
                    "class_labels": torch.tensor([1]),
                },
            ),
        ),
    }


def _torchvision() -> dict[str, tuple[Callable[[], nn.Module], Callable[[], Inputs]]]:
    def model(name: str, **options: Any) -> Callable[[], nn.Module]:
        def make() -> nn.Module:
            import torchvision

            return torchvision.models.get_model(name, weights=None, **options)  # type: ignore[no-any-return]

        return make

    def image(size: int) -> Callable[[], Inputs]:
        return lambda: ((_image(size),), {})

    detection: Callable[[], Inputs] = lambda: (([_image(64)[0]],), {})  # noqa: E731
    video: Callable[[], Inputs] = lambda: (  # noqa: E731
        (torch.randn(1, 3, 4, 32, 32, generator=torch.Generator().manual_seed(0)),),
        {},
    )
    backbone = {"weights_backbone": None}
    return {
        "tv resnet18": (model("resnet18"), image(64)),
        "tv mobilenet_v3_small": (model("mobilenet_v3_small"), image(64)),
        "tv efficientnet_b0": (model("efficientnet_b0"), image(64)),
        "tv efficientnet_v2_s": (model("efficientnet_v2_s"), image(64)),
        "tv convnext_tiny": (model("convnext_tiny"), image(64)),
        "tv regnet_y_400mf": (model("regnet_y_400mf"), image(64)),
        "tv shufflenet_v2_x0_5": (model("shufflenet_v2_x0_5"), image(64)),
        "tv mnasnet0_5": (model("mnasnet0_5"), image(64)),
        "tv squeezenet1_1": (model("squeezenet1_1"), image(64)),
        "tv densenet121": (model("densenet121"), image(64)),
        "tv googlenet": (model("googlenet", aux_logits=False, init_weights=True), image(64)),
        "tv swin_t": (model("swin_t"), image(64)),
        "tv swin_v2_t": (model("swin_v2_t"), image(64)),
        "tv vit_b_16": (model("vit_b_16", image_size=32, num_classes=10), image(32)),
        "tv maxvit_t": (model("maxvit_t"), image(224)),
        "tv r3d_18": (model("r3d_18"), video),
        "tv mc3_18": (model("mc3_18"), video),
        "tv r2plus1d_18": (model("r2plus1d_18"), video),
        "tv raft_small": (
            model("raft_small"),
            lambda: ((_image(128), _image(128) * 0.5, 2), {}),
        ),
        "tv fasterrcnn_mobilenet_v3_large_320_fpn": (
            model("fasterrcnn_mobilenet_v3_large_320_fpn", num_classes=3, **backbone),
            detection,
        ),
        "tv ssdlite320_mobilenet_v3_large": (
            model("ssdlite320_mobilenet_v3_large", num_classes=3, **backbone),
            detection,
        ),
        "tv deeplabv3_mobilenet_v3_large": (
            model("deeplabv3_mobilenet_v3_large", num_classes=3, **backbone),
            image(64),
        ),
        "tv lraspp_mobilenet_v3_large": (
            model("lraspp_mobilenet_v3_large", num_classes=3, **backbone),
            image(64),
        ),
    }


def models() -> dict[str, tuple[Callable[[], nn.Module], Callable[[], Inputs]]]:
    """Every model of this zoo: name -> (build, inputs)."""
    return {**_transformers(), **_diffusers(), **_torchvision()}


QUICK = ("bert", "unet2d", "tv resnet18")


def run(quick: bool) -> tuple[list[dict[str, Any]], str]:
    rows = []
    table = models()
    for name in QUICK if quick else tuple(table):
        build, inputs = table[name]
        try:
            rows.append(check_model(name, build, inputs()))
        except Exception as error:  # a crash is a result of the benchmark, not its end
            rows.append(crashed(name, error))
        report(name, rows[-1])
    intro = (
        "transformers, diffusers and torchvision models built from small configs, no pretrained "
        "weights, eval mode, one seeded input each; every converted layer's activation "
        "(convert(reinit=False) without an input, where the model's declared example input is "
        "used if tracing fails, and run on example_inputs) against the ground truth of an "
        "aten-level record (`python -m benchmarks zoo_hf`, in the zoo venv of docs/convert.md). "
        "Silently wrong counts a different gain that is not a warned fallback, and a decision "
        "where the truth is undecided.\n\n"
    )
    return rows, intro + markdown(rows)
