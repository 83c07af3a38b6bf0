namespace FusedRnn.Tests.Support;

/// <summary>Random networks and data with PyTorch's default initialization scale, from a fixed seed.</summary>
public static class RandomNetworks
{
    public static RnnWeights Create(RnnSpec spec, int seed)
    {
        var random = new Random(seed);
        float scale = 1f / MathF.Sqrt(spec.HiddenSize);
        var layers = new List<LayerWeights>();
        for (int layer = 0; layer < spec.NumLayers; layer++)
        {
            for (int direction = 0; direction < spec.Directions; direction++)
            {
                float[]? Make(WeightRole role) => WeightShapes.IsPresent(spec, role)
                    ? Uniform(random, (int)FusedRnn.FloatTensor.ElementCount(WeightShapes.Expected(spec, role, layer)), scale)
                    : null;
                layers.Add(new LayerWeights(Make(WeightRole.WeightIh)!, Make(WeightRole.WeightHh)!, Make(WeightRole.BiasIh), Make(WeightRole.BiasHh), Make(WeightRole.WeightHr), Make(WeightRole.WeightP)));
            }
        }

        return new RnnWeights(spec, layers);
    }

    public static float[] Uniform(Random random, int count, float scale)
    {
        var values = new float[count];
        for (int i = 0; i < count; i++) values[i] = (float)((random.NextDouble() * 2 - 1) * scale);
        return values;
    }

    public static FloatTensor FloatTensor(Random random, params int[] shape) =>
        new(Uniform(random, (int)FusedRnn.FloatTensor.ElementCount(shape), 1f), shape);

    /// <summary>Lengths in 1..T in random order, with at least one full-length row.</summary>
    public static int[] Lengths(Random random, int batch, int seqLen)
    {
        int[] lengths = [.. Enumerable.Range(0, batch).Select(_ => random.Next(1, seqLen + 1))];
        lengths[random.Next(batch)] = seqLen;
        return lengths;
    }

    /// <summary>A random architecture of the given kind.</summary>
    public static RnnSpec Spec(Random random, CellKind kind, int maxSize = 24)
    {
        int hidden = random.Next(1, maxSize + 1);
        bool project = kind == CellKind.Lstm && hidden > 1 && random.Next(3) == 0;
        return new RnnSpec(kind, random.Next(1, maxSize + 1), hidden, random.Next(1, 4), random.Next(2) == 0, random.Next(4) != 0,
            project ? random.Next(1, hidden) : 0);
    }
}
