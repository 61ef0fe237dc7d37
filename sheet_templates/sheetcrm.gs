/**
 * sheetcrm for Google Sheets: paste this whole file into Extensions > Apps Script.
 *
 * It adds a "CRM" menu with "Sync now", and forwards Google Forms answers to the sheetcrm
 * service (Google Forms sends no webhook of its own).
 *
 * Set these in Apps Script > Project Settings > Script properties (never in the sheet):
 *   SHEETCRM_URL    the service's address, e.g. https://YOUR-PROJECT.appspot.com
 *   SHEETCRM_TOKEN  the service's task token (SHEETCRM_TASK_TOKEN where the service runs)
 *
 * For Google Forms: link the form to this spreadsheet, then in Apps Script > Triggers add a
 * trigger: function "forwardFormSubmit", event source "From spreadsheet", event type
 * "On form submit". (Or paste this file into the form's own Apps Script, with event source
 * "From form": each submission is then keyed by the form response's id.)
 */

function onOpen() {
  SpreadsheetApp.getUi()
    .createMenu('CRM')
    .addItem('Sync now', 'syncNow')
    .addToUi();
}

function settings_() {
  var props = PropertiesService.getScriptProperties();
  var url = (props.getProperty('SHEETCRM_URL') || '').replace(/\/+$/, '');
  var token = props.getProperty('SHEETCRM_TOKEN') || '';
  if (!url || !token) {
    throw new Error('Set SHEETCRM_URL and SHEETCRM_TOKEN in Project Settings > Script properties.');
  }
  return {url: url, token: token};
}

/** Menu CRM > Sync now: asks the service for a sync of this spreadsheet. */
function syncNow() {
  var s = settings_();
  var response = UrlFetchApp.fetch(s.url + '/tasks/sync', {
    method: 'post',
    contentType: 'application/json',
    headers: {Authorization: 'Bearer ' + s.token},
    payload: JSON.stringify({spreadsheetId: SpreadsheetApp.getActive().getId()}),
    muteHttpExceptions: true,
  });
  var code = response.getResponseCode();
  var text = code < 300 ? 'Sync done.' : 'Sync failed (' + code + '): ' + response.getContentText();
  SpreadsheetApp.getActive().toast(text.substring(0, 300), 'sheetcrm', 10);
}

/**
 * Installable "On form submit" trigger: posts the answers (question title -> list of
 * answers) to the service's Google Forms webhook. Installed on the spreadsheet, the event
 * holds e.namedValues; installed on the form itself (a script bound to the form), it holds
 * e.response. The submission's idempotency key is built from the response itself, never from
 * its row: a retried post adds no row twice, and a response row deleted by hand cannot give
 * the next person's answers the key of an earlier one (see submissionId_).
 */
function forwardFormSubmit(e) {
  var s = settings_();
  var named = e.namedValues || namedValuesOf_(e.response);
  var payload = {
    namedValues: named,
    submissionId: submissionId_(e, named),
    spreadsheetId: spreadsheetId_(),
    submittedAt: e.response ? e.response.getTimestamp().toISOString() : new Date().toISOString(),
  };
  var options = {
    method: 'post',
    contentType: 'application/json',
    headers: {Authorization: 'Bearer ' + s.token},
    payload: JSON.stringify(payload),
    muteHttpExceptions: true,
  };
  // A few tries with growing pauses: the service answers 2xx only once the lead is stored.
  for (var attempt = 0; attempt < 4; attempt++) {
    var code = UrlFetchApp.fetch(s.url + '/hooks/google-forms', options).getResponseCode();
    if (code < 300) return;
    if (code >= 400 && code < 500 && code !== 408 && code !== 429) break;
    Utilities.sleep(1000 * Math.pow(2, attempt));
  }
  console.error('sheetcrm did not accept the form answer; it stays in the responses tab.');
}

/**
 * The submission's key: the form response's own id when the trigger gives it (a trigger on
 * the form), else the responses tab's Timestamp cell and a SHA-256 of the answers. The
 * trigger's id and the row number are no key: after a row is deleted, the next response
 * takes its number.
 */
function submissionId_(e, named) {
  if (e.response && e.response.getId) return 'response:' + e.response.getId();
  var stamp = e.values ? e.values[0] : (named.Timestamp || [''])[0];
  var answers = Object.keys(named).sort().map(function (question) {
    return [question, named[question]];
  });
  var digest = Utilities.computeDigest(
    Utilities.DigestAlgorithm.SHA_256,
    JSON.stringify(answers),
    Utilities.Charset.UTF_8
  );
  var hex = digest.map(function (b) {
    return ('0' + ((b + 256) % 256).toString(16)).slice(-2);
  }).join('');
  return 'sheet:' + stamp + ':sha256:' + hex;
}

/** A form response's answers as a spreadsheet trigger gives them: title -> [answer]. */
function namedValuesOf_(response) {
  var named = {};
  response.getItemResponses().forEach(function (item) {
    var title = item.getItem().getTitle();
    var answer = item.getResponse();
    var text = Array.isArray(answer) ? answer.join(', ') : String(answer);
    (named[title] = named[title] || []).push(text);
  });
  return named;
}

/** The spreadsheet's id; none when the script is bound to the form alone. */
function spreadsheetId_() {
  var active = SpreadsheetApp.getActive();
  return active ? active.getId() : '';
}
