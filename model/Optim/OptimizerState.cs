using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Optim;

/// <summary>
/// An optimizer's state in a flat form a checkpoint can write as safetensors: tensors named
/// "{parameter index}.{state name}" (e.g. "3.exp_avg"; indices count parameters across groups in order)
/// and, per parameter, the number of updates it has received (0: never, and then it has no tensors).
/// </summary>
public sealed record OptimizerState(IReadOnlyDictionary<string, Tensor> Tensors, IReadOnlyList<long> Steps);
