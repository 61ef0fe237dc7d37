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
 * "On form submit".
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
 * Installable "On form submit" trigger: posts the answers (e.namedValues, question title ->
 * list of answers) to the service's Google Forms webhook. The response row's position and
 * the trigger's id make the submission's idempotency key, so a retried post adds no row twice.
 */
function forwardFormSubmit(e) {
  var s = settings_();
  var payload = {
    namedValues: e.namedValues,
    submissionId: e.triggerUid + ':' + (e.range ? e.range.getRow() : ''),
    spreadsheetId: SpreadsheetApp.getActive().getId(),
    submittedAt: new Date().toISOString(),
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
