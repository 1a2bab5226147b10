using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Portal.Web.Features.Sessions;

namespace Portal.Web.Features.Reports;

/// <summary>
/// The session report as one self-contained, printable HTML page: inline styles only, no script, no image, no
/// font, no link to fetch — it can be saved, mailed or printed and shows the same everywhere.
/// </summary>
public static class ReportHtml
{
    private const string Style = """
        :root{color-scheme:light}
        body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1f24;margin:2rem auto;max-width:60rem;padding:0 1rem}
        h1{font-size:1.6rem;margin:0 0 .25rem}h2{font-size:1.2rem;margin:2rem 0 .5rem;border-bottom:1px solid #d0d7de;padding-bottom:.25rem}
        h3{font-size:1rem;margin:1rem 0 .25rem}.muted{color:#57606a}
        .finding{border-left:4px solid #8c959f;padding:.5rem .75rem;margin:.5rem 0;background:#f6f8fa;break-inside:avoid}
        .finding.critical{border-color:#cf222e}.finding.warning{border-color:#bf8700}.finding.info{border-color:#0969da}
        .finding .code{font-family:ui-monospace,monospace;font-size:.85em}.finding .fix{margin-top:.35rem}
        table{border-collapse:collapse;width:100%;margin:.5rem 0;font-size:.9em}th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #d0d7de;vertical-align:top}
        .st{font-weight:600}.st.pass{color:#1a7f37}.st.warn{color:#9a6700}.st.fail,.st.error,.st.blocked{color:#cf222e}
        .metrics{font-family:ui-monospace,monospace;font-size:.8em;color:#57606a}
        @media print{body{margin:0}h2{break-after:avoid}}
        """;

    /// <summary>The value of the page's Content-Security-Policy: nothing may load, only its own inline style applies.</summary>
    public static string ContentSecurityPolicy { get; } =
        $"default-src 'none'; style-src 'sha256-{Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(Style)))}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    /// <summary>Renders the report of a session.</summary>
    public static string Render(SessionDetail session, DateTimeOffset generatedAt)
    {
        ArgumentNullException.ThrowIfNull(session);
        var sb = new StringBuilder(16 * 1024);
        var title = session.CustomerName ?? "Diagnostic session";
        sb.Append("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
          .Append("<meta name=\"referrer\" content=\"no-referrer\"><title>").Append(E(title)).Append(" · Network diagnostics report</title><style>")
          .Append(Style).Append("</style></head><body><main>");
        sb.Append("<h1>").Append(E(title)).Append("</h1><p class=\"muted\">")
          .Append(session.TicketRef is { } t ? $"Ticket {E(t)} · " : "")
          .Append("Session created ").Append(Time(session.CreatedAt)).Append(" · ").Append(session.Runs.Count).Append(" run(s) · report made ").Append(Time(generatedAt))
          .Append("</p>");

        if (session.Runs.Count == 0)
        {
            sb.Append("<p>No runs yet.</p>");
        }

        foreach (var run in session.Runs.OrderByDescending(r => r.StartedAt))
        {
            var results = session.Results.Where(r => r.RunId == run.Id).ToList();
            var probe = session.IsProbeRun(run);
            sb.Append("<h2>").Append(probe ? "Server probes" : "Run").Append(" of ").Append(Time(run.StartedAt)).Append(" <span class=\"muted\">(").Append(E(run.Status)).Append(")</span></h2>");
            if (run.UserAgent is { } ua)
            {
                sb.Append("<p class=\"muted\">").Append(E(ua)).Append("</p>");
            }

            var findings = session.FindingsOf(run.Id).ToList();
            sb.Append("<h3>Findings</h3>");
            if (findings.Count == 0)
            {
                sb.Append("<p class=\"muted\">No findings").Append(run.Status == "completed" ? "." : " yet: the run is still going.").Append("</p>");
            }

            foreach (var f in findings)
            {
                sb.Append("<div class=\"finding ").Append(E(f.Severity)).Append("\"><div><b>").Append(E(f.Severity)).Append("</b> · <span class=\"code\">").Append(E(f.Code)).Append("</span></div><div>")
                  .Append(E(f.Summary)).Append("</div><div class=\"fix\"><b>Fix:</b> ").Append(E(f.Recommendation)).Append("</div></div>");
            }

            sb.Append("<h3>Steps</h3><table><thead><tr><th>Step</th><th>Status</th><th>What it found</th></tr></thead><tbody>");
            foreach (var r in results)
            {
                sb.Append("<tr><td>").Append(E(r.Step));
                if (Target(r) is { } target)
                {
                    sb.Append("<div class=\"muted metrics\">").Append(E(target)).Append("</div>");
                }

                sb.Append("</td><td class=\"st ").Append(E(r.Status)).Append("\">").Append(E(r.Status)).Append("</td><td>")
                  .Append(E(Summary(r))).Append("<div class=\"metrics\">").Append(E(Metrics(r))).Append("</div></td></tr>");
            }

            sb.Append("</tbody></table>");
            if (run.Verdict is { } verdict)
            {
                sb.Append("<p><b>").Append(probe ? "Outcome" : "The customer's page said").Append(":</b> ").Append(E(verdict)).Append("</p>");
            }
        }

        sb.Append("</main></body></html>");
        return sb.ToString();
    }

    /// <summary>The plain sentence a result carries, or its step's name.</summary>
    public static string Summary(ResultDetail result) =>
        result.Detail.ValueKind == JsonValueKind.Object && result.Detail.TryGetProperty("summary", out var s) && s.ValueKind == JsonValueKind.String
            ? s.GetString()!
            : result.Step;

    /// <summary>The target a server-side probe result is about (a run probes several), or null.</summary>
    public static string? Target(ResultDetail result) =>
        result?.Detail.ValueKind == JsonValueKind.Object && result.Detail.TryGetProperty("target", out var t) && t.ValueKind == JsonValueKind.String
            ? t.GetString()
            : null;

    /// <summary>A result's numbers as one line: <c>name value · name value</c>.</summary>
    public static string Metrics(ResultDetail result)
    {
        ArgumentNullException.ThrowIfNull(result);
        if (result.Metrics.ValueKind != JsonValueKind.Object)
        {
            return "";
        }

        return string.Join(" · ", result.Metrics.EnumerateObject().Select(p => $"{p.Name} {(p.Value.ValueKind == JsonValueKind.Null ? "—" : p.Value.GetRawText())}"));
    }

    private static string E(string text) => WebUtility.HtmlEncode(text);

    private static string Time(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);
}
