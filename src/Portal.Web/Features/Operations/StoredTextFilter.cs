using System.Collections;
using System.Reflection;
using System.Text.Json;
using Portal.Core.Results;

namespace Portal.Web.Features.Operations;

/// <summary>
/// Refuses, with a 400 that names the field, any request whose bound body or parameters hold what PostgreSQL cannot
/// store (<see cref="StoredText"/>): a NUL, a lone surrogate, a number beyond a double, JSON nested too deep. Put on
/// every API group, so no endpoint reaches the database with them and answers 500 instead.
/// </summary>
public sealed class StoredTextFilter : IEndpointFilter
{
    /// <inheritdoc />
    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        var parameters = context.HttpContext.GetEndpoint()?.Metadata.GetMetadata<MethodInfo>()?.GetParameters();
        for (var i = 0; i < context.Arguments.Count; i++)
        {
            var name = parameters is not null && i < parameters.Length ? parameters[i].Name ?? "body" : "body";
            if (Find(context.Arguments[i], name, 0) is { } problem)
            {
                return ValueTask.FromResult<object?>(TypedResults.ValidationProblem(
                    new Dictionary<string, string[]> { [problem.Path] = [$"{problem.Path} {problem.Problem}."] },
                    title: "The request holds text the portal cannot store."));
            }
        }

        return next(context);
    }

    /// <summary>The first problem in a bound value, walking Portal's own records, lists and JSON.</summary>
    public static (string Path, string Problem)? Find(object? value, string path, int depth)
    {
        switch (value)
        {
            case null:
                return null;
            case string text:
                return StoredText.Problem(text) is { } problem ? (path, problem) : null;
            case JsonElement element:
                return StoredText.Problem(element, path);
            case IDictionary dictionary:
                foreach (DictionaryEntry entry in dictionary)
                {
                    if ((Find(entry.Key as string, path, depth + 1) ?? Find(entry.Value, $"{path}.{entry.Key}", depth + 1)) is { } inner)
                    {
                        return inner;
                    }
                }

                return null;
            case IEnumerable items:
                var index = 0;
                foreach (var item in items)
                {
                    if (Find(item, $"{path}[{index++}]", depth + 1) is { } inner)
                    {
                        return inner;
                    }
                }

                return null;
        }

        var type = value.GetType();
        if (depth > 8 || type.Namespace?.StartsWith("Portal.", StringComparison.Ordinal) != true || type.IsEnum)
        {
            return null;
        }

        foreach (var (property, name) in s_properties.GetOrAdd(type, Readable))
        {
            if (Find(property.GetValue(value), $"{(path == "body" ? "" : path + ".")}{name}", depth + 1) is { } inner)
            {
                return inner;
            }
        }

        return null;
    }

    // Read once per type: every HTTP ingest request walks its body.
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<Type, (PropertyInfo Property, string Name)[]> s_properties = new();

    private static (PropertyInfo, string)[] Readable(Type type) =>
        [.. type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.GetIndexParameters().Length == 0)
            .Select(p => (p, JsonNamingPolicy.CamelCase.ConvertName(p.Name)))];
}
