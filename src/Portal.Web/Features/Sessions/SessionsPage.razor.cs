using System.Security.Claims;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;
using Radzen;
using Radzen.Blazor;
using Portal.Web.Features.CustomerLink;

namespace Portal.Web.Features.Sessions;

/// <summary>The sessions list, and the form that opens a new session.</summary>
public partial class SessionsPage
{
    private RadzenDataGrid<SessionSummary>? _grid;
    // Null until the first load: Radzen's grid asks LoadData for its first page only when it starts with no data.
    private IReadOnlyList<SessionSummary>? _rows;
    private int _total;
    private bool _loading;
    private bool _showForm;
    private bool _busy;
    private string? _customerName;
    private string? _ticketRef;
    private string _language = "";

    /// <summary>The customer page's languages, first the default: whatever the customer's browser asks for.</summary>
    private static readonly IReadOnlyList<(string Code, string Name)> LanguageChoiceList =
        [("", "The customer's browser"), .. CustomerLink.CustomerStrings.Supported.Select(c => (c, $"{CustomerLink.CustomerStrings.Text(c, "language.name")} ({c})"))];

    private static IEnumerable<LanguageChoice> LanguageChoices => LanguageChoiceList.Select(c => new LanguageChoice(c.Code, c.Name));
    private string? _error;
    private (Guid Id, string Url)? _created;
    private string? _search;
    private string? _status;
    private string? _finding;
    private string? _engineer;
    private DateTime? _from;
    private DateTime? _to;
    private IReadOnlyList<Person> _engineers = [];

    private static readonly string[] StatusChoices = ["open", "closed"];

    /// <summary>Who is logged in.</summary>
    [CascadingParameter]
    private Task<AuthenticationState>? AuthenticationState { get; set; }

    /// <inheritdoc />
    protected override async Task OnInitializedAsync() => _engineers = await Sessions.PeopleAsync(CancellationToken.None);

    private SessionQuery Query => new(
        Search: _search, EngineerId: _engineer, Status: _status, FindingCode: _finding,
        From: _from is { } f ? new DateTimeOffset(DateTime.SpecifyKind(f.Date, DateTimeKind.Local)) : null,
        To: _to is { } t ? new DateTimeOffset(DateTime.SpecifyKind(t.Date.AddDays(1), DateTimeKind.Local)) : null);

    private async Task ApplyAsync()
    {
        if (_grid is not null)
        {
            await _grid.FirstPage(true);
        }
    }

    private async Task ClearAsync()
    {
        _search = _status = _finding = _engineer = null;
        _from = _to = null;
        await ApplyAsync();
    }

    private async Task LoadAsync(LoadDataArgs args)
    {
        _loading = true;
        var (rows, total) = await Sessions.ListAsync(Query, args.Skip ?? 0, args.Top ?? 25, CancellationToken.None);
        _rows = rows;
        _total = total;
        _loading = false;
    }

    private void Open(SessionSummary? row)
    {
        if (row is not null)
        {
            Navigation.NavigateTo($"/sessions/{row.Id}");
        }
    }

    private async Task CreateAsync()
    {
        _error = null;
        var input = new NewSession(_customerName, _ticketRef, Language: _language.Length == 0 ? null : _language);
        var errors = SessionService.Validate(input, Probes.Prober.Guard);
        if (errors.Count > 0)
        {
            _error = string.Join(" ", errors.Values.SelectMany(v => v));
            return;
        }

        _busy = true;
        try
        {
            var user = AuthenticationState is null ? null : (await AuthenticationState).User;
            var created = await Sessions.CreateAsync(input, user?.FindFirstValue(ClaimTypes.NameIdentifier), CancellationToken.None);
            if (_grid is not null)
            {
                await _grid.Reload();
            }

            // Shown last, in one render with the new grid row, so nothing re-renders under the link's buttons afterwards.
            _created = (created.Session.Id, CustomerLinks.Url(Origins.LinkBase(Navigation.BaseUri), created.Token));
            _customerName = _ticketRef = null;
            _showForm = false;
        }
        finally
        {
            _busy = false;
        }
    }
}

/// <summary>A language the engineer can choose for a customer's page (an empty code: the customer's browser decides).</summary>
/// <param name="Code">The language's code.</param>
/// <param name="Name">What the console shows.</param>
public sealed record LanguageChoice(string Code, string Name);
