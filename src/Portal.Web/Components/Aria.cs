namespace Portal.Web.Components;

/// <summary>Accessible names for Radzen inputs whose own label would otherwise be their value (a run's or a person's id).</summary>
public static class Aria
{
    /// <summary>Attributes that name an input for screen readers and tests.</summary>
    public static IReadOnlyDictionary<string, object> Label(string name) => new Dictionary<string, object>(StringComparer.Ordinal) { ["aria-label"] = name };
}
