"""Where the network puts each test image: penultimate-layer features projected to 2-D.

The features are the input of the output layer, the space in which the last layer separates the
classes with hyperplanes. PCA (exact, via SVD) shows its main directions; t-SNE, when
scikit-learn is installed (`pip install "mnistlab[embedding]"`), shows its neighbourhoods.
"""
from __future__ import annotations

import importlib.util

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from ..models import Net

TSNE_POINTS = 2000  # t-SNE grows as n log n with a large constant: 2,000 points take seconds on a laptop
TSNE_ITERATIONS = 500  # penultimate features form tight clusters: 250 exaggerated + 250 plain steps settle them
THUMBNAILS = 3  # per class


@torch.inference_mode()
def penultimate_features(model: Net, x: torch.Tensor, batch_size: int = 2000) -> np.ndarray:
    """The input of the output layer for each row of a prepared batch (eval mode, fp32), (N, features)."""
    was_training = model.training
    model.eval()
    chunks = []
    try:
        for i in range(0, len(x), batch_size):
            h = x[i:i + batch_size].float()
            for name, module in model.named_children():
                if name == "output":
                    break
                h = module(h)
            chunks.append(h.flatten(1).cpu().numpy())
    finally:
        model.train(was_training)
    return np.concatenate(chunks) if chunks else np.zeros((0, 0), np.float32)


def pca_2d(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The projection on the two main principal axes and the share of variance each explains.

    From the eigenvectors of the (features x features) scatter matrix, in torch: an SVD of the whole
    (N, features) matrix costs far more, and NumPy's BLAS threads ignore --threads."""
    x = torch.from_numpy(features).double()
    x = x - x.mean(0)
    variance, axes = torch.linalg.eigh(x.T @ x)  # ascending
    top = axes[:, -2:].flip(1)
    explained = variance[-2:].flip(0) / variance.sum().clamp_min(1e-12)
    return (x @ top).float().numpy(), explained.float().numpy()


def tsne_2d(features: np.ndarray, seed: int = 0) -> np.ndarray | None:
    """t-SNE of the rows (scikit-learn), or None when scikit-learn is not installed."""
    if importlib.util.find_spec("sklearn") is None:
        return None
    # scikit-learn: the optional embedding extra
    from sklearn.manifold import TSNE

    # scikit-learn's OpenMP pool is not torch's: held to torch's count (--threads), it cannot oversubscribe the cores
    with threadpool_limits(limits=torch.get_num_threads(), user_api="openmp"):
        return TSNE(n_components=2, init="pca", perplexity=min(30.0, max(2.0, (len(features) - 1) / 3)),
                    max_iter=TSNE_ITERATIONS, random_state=seed).fit_transform(features)


def thumbnails(points: np.ndarray, labels: np.ndarray, n_classes: int, k: int = THUMBNAILS) -> np.ndarray:
    """Indices of `k` points per class spread from its centre outwards: the one nearest the median of the
    class's points, then those at evenly spaced ranks of distance up to the 90th percentile."""
    chosen = []
    for c in range(n_classes):
        members = np.flatnonzero(labels == c)
        if len(members):
            order = members[np.argsort(np.linalg.norm(points[members] - np.median(points[members], 0), axis=1), kind="stable")]
            ranks = np.unique(np.round(np.linspace(0, 0.9, k) * (len(order) - 1)).astype(int))
            chosen.extend(order[ranks])
    return np.asarray(chosen, dtype=np.int64)


def embedding(run, pred, seed: int = 0, tsne_points: int | None = None) -> dict:
    """Test-set penultimate features in 2-D (PCA of all of them; t-SNE of a seeded sample), with labels, predictions
    and thumbnail indices per projection. Indices refer to the test set; `tsne_points` defaults to TSNE_POINTS."""
    tsne_points = tsne_points or TSNE_POINTS
    features = penultimate_features(run.model, run.prepare(pred.images))
    pca, explained = pca_2d(features)
    n_classes = len(pred.classes)
    projections = {"pca": {"indices": np.arange(len(features)), "points": pca, "explained_variance": explained,
                           "thumbnails": thumbnails(pca, pred.labels, n_classes)}}
    sample = np.sort(np.random.default_rng(seed).choice(len(features), size=min(tsne_points, len(features)), replace=False))
    tsne = tsne_2d(features[sample], seed)
    if tsne is not None:
        projections["tsne"] = {"indices": sample, "points": tsne,
                               "thumbnails": sample[thumbnails(tsne, pred.labels[sample], n_classes)]}
    shown = np.unique(np.concatenate([p["thumbnails"] for p in projections.values()]))
    rows = run.model.rows
    layer = rows[[r["name"] for r in rows].index("output") - 1]  # the module whose output the output layer reads
    return {"projections": projections, "labels": pred.labels, "predicted": pred.predicted,
            "n_errors": int((pred.predicted != pred.labels).sum()), "classes": pred.classes,
            "layer": {"name": layer["name"], "features": int(features.shape[1])},
            "thumbnail_images": {int(i): pred.images[i] for i in shown},
            "note": None if tsne is not None else 't-SNE left out: scikit-learn is not installed (pip install "mnistlab[embedding]")'}
